import { and, eq, sql } from 'drizzle-orm';
import { songs, voteSessionSongs, voteSessions, votes, type Club, type Song, type Vote, type VoteSession } from '../../db/schema.js';
import { badInput, conflict, isUniqueViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requirePrincipal } from '../../platform/auth.js';
import { requireManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import type { VoteResultsSnapshot } from './results-store.js';

export function voteSessionById(scope: Scope, id: string): Promise<VoteSession | null> {
  return scope.loaders.voteSessionById.load(id);
}

export function activeVoteSessionOf(scope: Scope, club: Club): Promise<VoteSession | null> {
  return scope.loaders.activeVoteSessionByClub.load(club.id);
}

export async function songsOf(scope: Scope, session: VoteSession): Promise<Song[]> {
  return (await scope.loaders.songsBySession.load(session.id)).map((row) => row.song);
}

/** Votes per song of the session with shares in percent, from the shared results cache. */
export async function resultsOf(scope: Scope, session: VoteSession): Promise<VoteResultsSnapshot> {
  return (await scope.loaders.voteResultsBySession.load(session.id))!;
}

async function clubOrNotFound(scope: Scope, clubId: string) {
  const club = isUuid(clubId) ? await scope.loaders.clubById.load(clubId) : null;
  if (!club) throw notFound('Club', clubId);
  return club;
}

/** Adds a song to the club's catalogue (its manager). */
export async function createSong(scope: Scope, input: { clubId: string; title: string; artist: string }): Promise<Song> {
  const club = await clubOrNotFound(scope, input.clubId);
  await requireManagerOf(scope, club.id, 'add songs');
  const title = input.title.trim();
  const artist = input.artist.trim();
  if (!title || title.length > 200 || !artist || artist.length > 200) throw badInput('title and artist must be 1 to 200 characters');
  try {
    const [song] = await scope.db.insert(songs).values({ clubId: club.id, title, artist }).returning();
    return song!;
  } catch (error) {
    if (isUniqueViolation(error, 'songs_club_title_artist_key')) throw conflict(`"${title}" by ${artist} is already in the catalogue`);
    throw error;
  }
}

/**
 * Ends the club's active session and starts a new one with its own song list, in one
 * transaction: if any step fails (a song that is not the club's, say), the previous
 * session is still active and untouched. The partial unique index keeps one active
 * session per club even when two managers start sessions at once.
 */
export async function startVoteSession(scope: Scope, input: { clubId: string; songIds: string[] }): Promise<VoteSession> {
  const club = await clubOrNotFound(scope, input.clubId);
  await requireManagerOf(scope, club.id, 'start vote sessions');
  if (input.songIds.length === 0 || input.songIds.length > 100) throw badInput('A vote session offers 1 to 100 songs');
  if (new Set(input.songIds).size !== input.songIds.length) throw badInput('songIds has repeats');
  const user = await scope.currentUser();
  const { session, ended } = await scope.db.transaction(async (tx) => {
    const ended = await tx
      .update(voteSessions)
      .set({ status: 'ended', endedAt: sql`now()` })
      .where(and(eq(voteSessions.clubId, club.id), eq(voteSessions.status, 'active')))
      .returning({ id: voteSessions.id });
    const known = input.songIds.every(isUuid)
      ? await tx.select({ id: songs.id }).from(songs).where(and(eq(songs.clubId, club.id), sql`${songs.id} = any(${sql.param(input.songIds)}::uuid[])`))
      : [];
    if (known.length !== input.songIds.length) throw badInput("Every song must be one of this club's songs");
    const [created] = await tx.insert(voteSessions).values({ clubId: club.id, startedBy: user.id }).returning();
    await tx.insert(voteSessionSongs).values(input.songIds.map((songId, position) => ({ sessionId: created!.id, songId, position })));
    return { session: created!, ended };
  }).catch((error: unknown) => {
    if (isUniqueViolation(error, 'vote_sessions_active_club_key')) throw conflict('Another vote session was started at the same moment');
    throw error;
  });
  const versions = await Promise.all([session.id, ...ended.map((e) => e.id)].map((id) => scope.voteResults.committed(id)));
  await scope.reports.changed([club.id], Math.max(...versions.map((v) => v ?? 0)) || null);
  scope.loaders.activeVoteSessionByClub.clear(club.id);
  return session;
}

/** Ends a session (its club's manager); ending an ended session returns it unchanged. */
export async function endVoteSession(scope: Scope, id: string): Promise<VoteSession> {
  const session = isUuid(id) ? await scope.loaders.voteSessionById.load(id) : null;
  if (!session) throw notFound('Vote session', id);
  await requireManagerOf(scope, session.clubId, 'end vote sessions');
  const [ended] = await scope.db
    .update(voteSessions)
    .set({ status: 'ended', endedAt: sql`now()` })
    .where(and(eq(voteSessions.id, id), eq(voteSessions.status, 'active')))
    .returning();
  if (!ended) return (await scope.db.select().from(voteSessions).where(eq(voteSessions.id, id)))[0]!;
  await scope.reports.changed([ended.clubId], await scope.voteResults.committed(id));
  scope.loaders.voteSessionById.clear(id).prime(id, ended);
  return ended;
}

/**
 * Casts the caller's vote, or moves it to another song: one vote per user per session,
 * held by the unique index (an upsert, so concurrent votes of one user count once). The
 * session row is share-locked meanwhile, so a vote never lands in a session being ended.
 */
export async function castVote(scope: Scope, input: { sessionId: string; songId: string }): Promise<Vote> {
  requirePrincipal(scope.viewer);
  if (!isUuid(input.sessionId)) throw notFound('Vote session', input.sessionId);
  if (!isUuid(input.songId)) throw badInput('That song is not on offer in this session');
  const user = await scope.currentUser();
  const vote = await scope.db.transaction(async (tx) => {
    const [session] = await tx.select({ status: voteSessions.status, clubId: voteSessions.clubId }).from(voteSessions).where(eq(voteSessions.id, input.sessionId)).for('share');
    if (!session) throw notFound('Vote session', input.sessionId);
    if (session.status !== 'active') throw conflict('This vote session has ended');
    const [offered] = await tx
      .select({ songId: voteSessionSongs.songId })
      .from(voteSessionSongs)
      .where(and(eq(voteSessionSongs.sessionId, input.sessionId), eq(voteSessionSongs.songId, input.songId)));
    if (!offered) throw badInput('That song is not on offer in this session');
    const [cast] = await tx
      .insert(votes)
      .values({ sessionId: input.sessionId, songId: input.songId, userId: user.id })
      .onConflictDoUpdate({ target: [votes.sessionId, votes.userId], set: { songId: input.songId, castAt: sql`now()` } })
      .returning();
    return { cast: cast!, clubId: session.clubId };
  });
  await scope.reports.changed([vote.clubId], await scope.voteResults.committed(input.sessionId));
  return vote.cast;
}
