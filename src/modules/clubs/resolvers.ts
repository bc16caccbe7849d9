import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { pageRequest } from '../../graphql/pagination.js';
import { activeVoteSessionOf } from '../voting/service.js';
import { availabilityOf, clubBySlug, watchAvailability, listClubs, nightById, nightTables, nightsOfClub, tablesOfClub } from './service.js';

export const clubResolvers: Resolvers = {
  Query: {
    clubs: (_root, { first, after }, ctx) => listClubs(ctx, pageRequest(first, after, 1)),
    club: (_root, { slug }, ctx) => clubBySlug(ctx, slug),
    night: (_root, { id }, ctx) => nightById(ctx, id),
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
    freeTables: (snapshot) => snapshot.tables.filter((t) => t.state === 'FREE').map((t) => t.table),
    tables: (snapshot) => snapshot.tables,
  },
  NightTable: {
    latestDeposit: async (row, _args, ctx) =>
      row.session ? ((await ctx.loaders.depositSummaryBySession.load(row.session.id))?.latest ?? null) : null,
    depositTotal: async (row, _args, ctx) => {
      const summary = row.session ? await ctx.loaders.depositSummaryBySession.load(row.session.id) : null;
      return { amountMinor: summary?.totalMinor ?? 0, currency: row.currency };
    },
  },
};
