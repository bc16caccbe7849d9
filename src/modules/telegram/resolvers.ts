import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { linkTelegram, telegramStatusOf, unlinkTelegram } from './service.js';

export const telegramResolvers: Resolvers = {
  Mutation: {
    linkTelegram: (_root, _args, ctx) => linkTelegram(ctx),
    unlinkTelegram: (_root, _args, ctx) => unlinkTelegram(ctx),
  },
  User: {
    telegram: (user, _args, ctx) => telegramStatusOf(ctx, user),
  },
};
