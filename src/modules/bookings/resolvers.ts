import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { pageRequest } from '../../graphql/pagination.js';
import { bookingsOf, bookingsOfNight, guestOf, isCheckedIn } from './lists.js';
import { bookingById, cancelBooking, confirmBooking, holdTable } from './service.js';

export const bookingResolvers: Resolvers = {
  Query: {
    booking: (_root, { id }, ctx) => bookingById(ctx, id),
  },
  Mutation: {
    holdTable: (_root, { input }, ctx) => holdTable(ctx, input),
    confirmBooking: (_root, { id }, ctx) => confirmBooking(ctx, id),
    cancelBooking: (_root, { id }, ctx) => cancelBooking(ctx, id),
  },
  User: {
    bookings: (user, { when, first, after }, ctx) => bookingsOf(ctx, user, when ?? 'ALL', pageRequest(first, after, 2)),
  },
  Night: {
    bookings: (night, { status, search, first, after }, ctx) =>
      bookingsOfNight(ctx, night, { statuses: (status ?? []).map((s) => s.toLowerCase()), search: search ?? null }, pageRequest(first, after, 2)),
  },
  Booking: {
    status: (booking) => booking.status.toUpperCase() as Uppercase<typeof booking.status>,
    night: (booking, _args, ctx) => ctx.loaders.nightById.load(booking.nightId).then((night) => night!),
    table: (booking, _args, ctx) => ctx.loaders.tableById.load(booking.tableId).then((table) => table!),
    guest: async (booking, _args, ctx) => ({ ...(await guestOf(ctx, booking)), roles: [] }),
    checkedIn: (booking, _args, ctx) => isCheckedIn(ctx, booking),
  },
};
