import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { closeTableSession, openTableSession, recordDeposit } from './service.js';

export const sessionResolvers: Resolvers = {
  Mutation: {
    openTableSession: (_root, { input }, ctx) => openTableSession(ctx, input),
    closeTableSession: (_root, { id }, ctx) => closeTableSession(ctx, id),
    recordDeposit: (_root, { input }, ctx) => recordDeposit(ctx, input),
  },
  TableSession: {
    night: (session, _args, ctx) => ctx.loaders.nightById.load(session.nightId).then((night) => night!),
    table: (session, _args, ctx) => ctx.loaders.tableById.load(session.tableId).then((table) => table!),
    booking: (session, _args, ctx) => (session.bookingId ? ctx.loaders.bookingById.load(session.bookingId) : null),
    deposits: (session, _args, ctx) => ctx.loaders.depositsBySession.load(session.id),
  },
  Deposit: {
    amount: (deposit) => ({ amountMinor: deposit.amountMinor, currency: deposit.currency }),
    session: (deposit, _args, ctx) => ctx.loaders.tableSessionById.load(deposit.sessionId).then((session) => session!),
  },
};
