import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { addStaff, removeStaff, staffOf } from './service.js';

export const staffResolvers: Resolvers = {
  Mutation: {
    addStaff: (_root, { input }, ctx) => addStaff(ctx, { ...input, role: input.role === 'MANAGER' ? 'manager' : 'host' }),
    removeStaff: (_root, { clubId, subject }, ctx) => removeStaff(ctx, clubId, subject),
  },
  Club: {
    staff: (club, _args, ctx) => staffOf(ctx, club.id),
  },
  StaffMember: {
    role: (member) => (member.role === 'manager' ? 'MANAGER' : 'HOST'),
    user: (member) => ({ ...member.user, roles: [] }),
  },
};
