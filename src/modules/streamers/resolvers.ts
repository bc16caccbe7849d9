import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { pageRequest } from '../../graphql/pagination.js';
import { addStreamer, listStreamers, streamerById, trackStreamer, untrackStreamer, wishlistItemsCount, wishlistOf } from './service.js';

export const streamerResolvers: Resolvers = {
  Query: {
    streamer: (_root, { id }, ctx) => streamerById(ctx, id),
    streamers: (_root, { search, first, after }, ctx) => listStreamers(ctx, search, pageRequest(first, after, 2)),
  },
  Mutation: {
    addStreamer: (_root, { input }, ctx) => addStreamer(ctx, input),
    trackStreamer: (_root, { streamerId }, ctx) => trackStreamer(ctx, streamerId),
    untrackStreamer: (_root, { streamerId }, ctx) => untrackStreamer(ctx, streamerId),
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
