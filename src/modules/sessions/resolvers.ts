import type { Resolvers } from '../../__generated__/resolvers-types.js';

export const sessionResolvers: Resolvers = {
  TableSession: {
    table: (session, _args, ctx) => ctx.loaders.tableById.load(session.tableId).then((table) => table!),
    booking: (session, _args, ctx) => (session.bookingId ? ctx.loaders.bookingById.load(session.bookingId) : null),
  },
  Deposit: {
    amount: (deposit) => ({ amountMinor: deposit.amountMinor, currency: deposit.currency }),
  },
};
