import type { Resolvers } from '../../__generated__/resolvers-types.js';

export const bookingResolvers: Resolvers = {
  Booking: {
    status: (booking) => booking.status.toUpperCase() as Uppercase<typeof booking.status>,
    night: (booking, _args, ctx) => ctx.loaders.nightById.load(booking.nightId).then((night) => night!),
    table: (booking, _args, ctx) => ctx.loaders.tableById.load(booking.tableId).then((table) => table!),
  },
};
