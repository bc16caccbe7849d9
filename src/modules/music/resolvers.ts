import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { audioOf, requestSongUpload, songsOfClub } from './service.js';

export const musicResolvers: Resolvers = {
  Mutation: {
    requestSongUpload: (_root, { songId, contentType, bytes }, ctx) => requestSongUpload(ctx, { songId, contentType, bytes }),
  },
  Club: {
    songs: (club, { search, first, after }, ctx) => songsOfClub(ctx, club, search, { first, after }),
  },
  Song: {
    audio: (song, _args, ctx) => audioOf(ctx, song),
  },
};
