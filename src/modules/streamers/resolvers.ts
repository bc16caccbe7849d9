import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { pageRequest } from '../../graphql/pagination.js';
import { addStreamer, listStreamers, streamerById, syncStreamer, trackStreamer, untrackStreamer, wishlistItemsCount, wishlistOf } from './service.js';

export const streamerResolvers: Resolvers = {
  Query: {
    streamer: (_root, { id }, ctx) => streamerById(ctx, id),
    streamers: (_root, { search, first, after }, ctx) => listStreamers(ctx, search, pageRequest(first, after, 2)),
  },
  Mutation: {
    addStreamer: (_root, { input }, ctx) => addStreamer(ctx, input),
    trackStreamer: (_root, { streamerId }, ctx) => trackStreamer(ctx, streamerId),
    untrackStreamer: (_root, { streamerId }, ctx) => untrackStreamer(ctx, streamerId),
    syncStreamer: (_root, { id }, ctx) => syncStreamer(ctx, id),
  },
  Streamer: {
    wishlistItemsCount: (streamer, _args, ctx) => wishlistItemsCount(ctx, streamer),
    wishlist: (streamer, { first, after }, ctx) => wishlistOf(ctx, streamer, pageRequest(first, after, 2)),
  },
  WishlistItem: {
    price: (item) =>
      money(item.priceMinor, item.currency),
    priceChanges: (item, _args, ctx) => ctx.loaders.priceChangesByItem.load(item.id),
  },
  PriceChange: {
    from: (change) => money(change.oldPriceMinor, change.oldCurrency),
    to: (change) => money(change.newPriceMinor, change.newCurrency),
  },
};

function money(amountMinor: number | null, currency: string | null) {
  return amountMinor === null || currency === null ? null : { amountMinor, currency };
}
