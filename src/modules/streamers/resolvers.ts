import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { pageRequest } from '../../graphql/pagination.js';
import { streamerById, wishlistItemsCount, wishlistOf } from './service.js';

export const streamerResolvers: Resolvers = {
  Query: {
    streamer: (_root, { id }, ctx) => streamerById(ctx, id),
  },
  Streamer: {
    wishlistItemsCount: (streamer, _args, ctx) => wishlistItemsCount(ctx, streamer),
    wishlist: (streamer, { first, after }, ctx) => wishlistOf(ctx, streamer, pageRequest(first, after, 2)),
  },
  WishlistItem: {
    price: (item) =>
      item.priceMinor === null || item.currency === null
        ? null
        : { amountMinor: item.priceMinor, currency: item.currency },
  },
};
