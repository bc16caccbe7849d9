import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { oneInput } from '../../graphql/input.js';
import { pageRequest } from '../../graphql/pagination.js';
import { userById } from '../users/service.js';
import { addGuest, addGuests } from './guest-list.js';
import { checkIn, checkInBooking, checkInsOf, createAgent, entryStatsOf, guestsOf, requireGuestContactView } from './service.js';

export const checkinResolvers: Resolvers = {
  Mutation: {
    addGuest: (_root, { input }, ctx) => addGuest(ctx, input),
    addGuests: (_root, { input }, ctx) => addGuests(ctx, input),
    checkIn: (_root, { input }, ctx) => checkIn(ctx, input),
    checkInBooking: (_root, { input }, ctx) => checkInBooking(ctx, input),
    createAgent: (_root, { input, userId, clubId }, ctx) => createAgent(ctx, oneInput(input, { userId, clubId }, 'userId')),
  },
  Night: {
    guests: (night, { search, first, after }, ctx) => guestsOf(ctx, night, search, pageRequest(first, after, 2)),
    checkIns: (night, { gate, first, after }, ctx) => checkInsOf(ctx, night, gate, pageRequest(first, after, 2)),
    entryStats: (night, _args, ctx) => entryStatsOf(ctx, night),
  },
  GuestEntry: {
    phone: async (entry, _args, ctx) => (await requireGuestContactView(ctx, entry, 'phone number'), entry.phone),
    token: async (entry, _args, ctx) => (await requireGuestContactView(ctx, entry, 'QR token'), entry.token),
    agent: (entry, _args, ctx) => (entry.agentId ? ctx.loaders.agentById.load(entry.agentId) : null),
    checkIn: (entry, _args, ctx) => ctx.loaders.checkInByGuest.load(entry.id),
  },
  CheckIn: {
    guest: (row, _args, ctx) => (row.guestEntryId ? ctx.loaders.guestById.load(row.guestEntryId) : null),
    booking: (row, _args, ctx) => (row.bookingId ? ctx.loaders.bookingById.load(row.bookingId) : null),
  },
  Agent: {
    club: (agent, _args, ctx) => ctx.loaders.clubById.load(agent.clubId).then((club) => club!),
    user: (agent, _args, ctx) => userById(ctx, agent.userId).then((user) => user!),
    stats: (agent, _args, ctx) =>
      ctx.loaders.agentStatsByAgent.load(agent.id).then((stats) => stats ?? { agentId: agent.id, guests: 0, checkIns: 0 }),
  },
};
