import type { Club, Song, VoteSession } from '../../db/schema.js';
import type { Scope } from '../scope.js';
import { voteResults, type VoteResultsModel } from './results.js';

export function voteSessionById(scope: Scope, id: string): Promise<VoteSession | null> {
  return scope.loaders.voteSessionById.load(id);
}

export function activeVoteSessionOf(scope: Scope, club: Club): Promise<VoteSession | null> {
  return scope.loaders.activeVoteSessionByClub.load(club.id);
}

export async function songsOf(scope: Scope, session: VoteSession): Promise<Song[]> {
  return (await scope.loaders.songsBySession.load(session.id)).map((row) => row.song);
}

/** Votes per song of the session with shares in percent, counted by the database. */
export async function resultsOf(scope: Scope, session: VoteSession): Promise<VoteResultsModel> {
  return voteResults(await scope.loaders.voteCountsBySession.load(session.id));
}
