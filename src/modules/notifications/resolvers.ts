import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { oneInput } from '../../graphql/input.js';
import { campaignById, campaignProgress, deleteWebhook, registerWebhook, sendCampaign, watchNotifications, webhooksOf } from './service.js';

export const notificationResolvers: Resolvers = {
  Query: {
    campaign: (_root, { id }, ctx) => campaignById(ctx, id),
  },
  Mutation: {
    registerWebhook: (_root, { input, url }, ctx) => registerWebhook(ctx, oneInput(input, { url }, 'url').url),
    deleteWebhook: (_root, { id }, ctx) => deleteWebhook(ctx, id),
    sendCampaign: (_root, { input }, ctx) => sendCampaign(ctx, input),
  },
  Subscription: {
    notifications: {
      subscribe: (_root, _args, ctx) => watchNotifications(ctx) as never,
    },
  },
  User: {
    webhooks: (user, _args, ctx) => webhooksOf(ctx, user),
  },
  Notification: {
    createdAt: (n) => new Date(n.createdAt),
    streamer: (n, _args, ctx) => (n.streamerId ? ctx.loaders.streamerById.load(n.streamerId) : null),
    wishlistItem: (n, _args, ctx) => (n.wishlistItemId ? ctx.loaders.wishlistItemById.load(n.wishlistItemId) : null),
    club: (n, _args, ctx) => (n.clubId ? ctx.loaders.clubById.load(n.clubId) : null),
    night: (n, _args, ctx) => (n.nightId ? ctx.loaders.nightById.load(n.nightId) : null),
    reason: (n) => n.reason ?? null,
  },
  Campaign: {
    club: (campaign, _args, ctx) => ctx.loaders.clubById.load(campaign.clubId).then((club) => club!),
    sent: async (campaign, _args, ctx) => (await campaignProgress(ctx, campaign)).sent,
    failed: async (campaign, _args, ctx) => (await campaignProgress(ctx, campaign)).failed,
    pending: async (campaign, _args, ctx) => (await campaignProgress(ctx, campaign)).pending,
  },
};
