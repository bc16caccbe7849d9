import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { resultsOf, songsOf, voteSessionById } from './service.js';

export const votingResolvers: Resolvers = {
  Query: {
    voteSession: (_root, { id }, ctx) => voteSessionById(ctx, id),
  },
  VoteSession: {
    club: (session, _args, ctx) => ctx.loaders.clubById.load(session.clubId).then((club) => club!),
    status: (session) => session.status.toUpperCase() as Uppercase<typeof session.status>,
    songs: (session, _args, ctx) => songsOf(ctx, session),
    results: (session, _args, ctx) => resultsOf(ctx, session),
  },
};
