import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { pageRequest } from '../../graphql/pagination.js';
import { trackedStreamersOf } from '../streamers/service.js';
import { me } from './service.js';
import { requireStaffView } from './visibility.js';

export const userResolvers: Resolvers = {
  Query: {
    me: (_root, _args, ctx) => me(ctx),
  },
  User: {
    roles: (user) => user.roles.map((role) => role.toUpperCase() as Uppercase<typeof role>),
    subject: async (user, _args, ctx) => (await requireStaffView(ctx, user, 'subject'), user.subject),
    trackedStreamers: (user, { first, after }, ctx) => trackedStreamersOf(ctx, user, pageRequest(first, after, 2)),
  },
};
