import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { pageRequest } from '../../graphql/pagination.js';
import { activeVoteSessionOf } from '../voting/service.js';
import { createClub, updateClub } from './setup.js';
import { arrangeTables, createTable, retireTable, updateTable, type TableFields } from './floor-plan.js';
import { cancelNight, listNights, scheduleNight, updateNight } from './nights.js';
import { availabilityOf, clubBySlug, watchAvailability, listClubs, nightById, nightTables, nightsOfClub, tablesOfClub } from './service.js';

export const clubResolvers: Resolvers = {
  Query: {
    clubs: (_root, { first, after }, ctx) => listClubs(ctx, pageRequest(first, after, 1)),
    club: (_root, { slug }, ctx) => clubBySlug(ctx, slug),
    night: (_root, { id }, ctx) => nightById(ctx, id),
    nights: (_root, { from, to, first, after }, ctx) => listNights(ctx, { from: from ?? null, to: to ?? null }, pageRequest(first, after, 2)),
  },
  Mutation: {
    createClub: (_root, { input }, ctx) => createClub(ctx, input),
    updateClub: (_root, { id, input }, ctx) => updateClub(ctx, id, input),
    createTable: (_root, { input }, ctx) => createTable(ctx, { ...input, minDepositMinor: input.minDepositMinor ?? 0, zone: input.zone ?? null }),
    updateTable: (_root, { id, input }, ctx) => updateTable(ctx, id, input as Partial<TableFields>),
    arrangeTables: (_root, { input }, ctx) => arrangeTables(ctx, input.clubId, input.tables),
    retireTable: (_root, { id }, ctx) => retireTable(ctx, id),
    scheduleNight: (_root, { input }, ctx) => scheduleNight(ctx, input),
    updateNight: (_root, { id, input }, ctx) => updateNight(ctx, id, input),
    cancelNight: (_root, { id, reason }, ctx) => cancelNight(ctx, id, reason),
  },
  Club: {
    tables: (club, _args, ctx) => tablesOfClub(ctx, club),
    nights: (club, { first, after }, ctx) => nightsOfClub(ctx, club, pageRequest(first, after, 2)),
    activeVoteSession: (club, _args, ctx) => activeVoteSessionOf(ctx, club),
  },
  Table: {
    minDeposit: (table, _args, ctx) =>
      ctx.loaders.clubById.load(table.clubId).then((club) => ({
        amountMinor: table.minDepositMinor,
        currency: club!.currency,
      })),
  },
  Night: {
    club: (night, _args, ctx) => ctx.loaders.clubById.load(night.clubId).then((club) => club!),
    status: (night) => (night.status === 'cancelled' ? 'CANCELLED' : 'SCHEDULED'),
    availability: async (night, _args, ctx) => {
      const snapshot = await availabilityOf(ctx, night);
      ctx.availabilityVersions.set(snapshot.nightId, snapshot.version);
      return snapshot;
    },
    tables: (night, _args, ctx) => nightTables(ctx, night),
  },
  Subscription: {
    availabilityChanged: {
      subscribe: (_root, { nightId }, ctx) => watchAvailability(ctx, nightId),
    },
  },
  Availability: {
    version: (snapshot) => snapshot.version,
    nightId: (snapshot) => snapshot.nightId,
    night: (snapshot, _args, ctx) => ctx.loaders.nightById.load(snapshot.nightId).then((night) => night!),
    freeTables: (snapshot, { partySize }) =>
      snapshot.tables.filter((t) => t.state === 'FREE' && (partySize == null || t.table.capacity >= partySize)).map((t) => t.table),
    tables: (snapshot) => snapshot.tables,
  },
  // Not async: a table without a session answers at once, without a promise.
  NightTable: {
    latestDeposit: (row, _args, ctx) =>
      row.session ? ctx.loaders.depositSummaryBySession.load(row.session.id).then((summary) => summary?.latest ?? null) : null,
    depositTotal: (row, _args, ctx) =>
      row.session
        ? ctx.loaders.depositSummaryBySession.load(row.session.id).then((summary) => ({ amountMinor: summary?.totalMinor ?? 0, currency: row.currency }))
        : { amountMinor: 0, currency: row.currency },
  },
};
