import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { castVote, createSong, endVoteSession, resultsOf, songsOf, startVoteSession, voteSessionById } from './service.js';

export const votingResolvers: Resolvers = {
  Query: {
    voteSession: (_root, { id }, ctx) => voteSessionById(ctx, id),
  },
  Mutation: {
    createSong: (_root, { input }, ctx) => createSong(ctx, input),
    startVoteSession: (_root, { input }, ctx) => startVoteSession(ctx, input),
    endVoteSession: (_root, { id }, ctx) => endVoteSession(ctx, id),
    castVote: (_root, { input }, ctx) => castVote(ctx, input),
  },
  VoteSession: {
    club: (session, _args, ctx) => ctx.loaders.clubById.load(session.clubId).then((club) => club!),
    status: (session) => session.status.toUpperCase() as Uppercase<typeof session.status>,
    songs: (session, _args, ctx) => songsOf(ctx, session),
    results: (session, _args, ctx) => resultsOf(ctx, session),
  },
  Vote: {
    song: (vote, _args, ctx) => ctx.loaders.songById.load(vote.songId).then((song) => song!),
    session: (vote, _args, ctx) => ctx.loaders.voteSessionById.load(vote.sessionId).then((session) => session!),
  },
};
