import type { Readable } from 'node:stream';
import { and, asc, eq, gt, ilike, isNull, or, sql } from 'drizzle-orm';
import { escapeLike } from '../../db/any.js';
import { songAudio, songs, songUploads, type Club, type Song, type SongAudio } from '../../db/schema.js';
import { badInput, forbidden, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { pageRequest, toConnection } from '../../graphql/pagination.js';
import type { ByteRange } from '../../platform/media-storage.js';
import type { Scope } from '../scope.js';
import { isStaffOf, requireManagerOf } from '../staff/service.js';
import { AudioIntake } from './audio-intake.js';
import { MediaRefusal } from './errors.js';

/** `Song.audio` as the API answers it: the row's facts and a URL this viewer may play. */
export interface SongAudioModel {
  url: string;
  contentType: string;
  bytes: number;
  durationSeconds: number | null;
  sha256: string;
  uploadedAt: Date;
}

/** What `requestSongUpload` answers. */
export interface UploadTicket {
  url: string;
  expiresAt: Date;
}

/** A declared type looks like one (`audio/mpeg`); what the file really is comes from its bytes. */
const AUDIO_TYPE = /^audio\/[a-z0-9][a-z0-9.+-]{0,60}$/i;

/**
 * Who may hear a song — the one rule, wherever the song is reached from (any GraphQL path
 * to `Song.audio`, or an unsigned GET of its audio): everyone while the song is on offer in
 * its club's active vote session (voters listen before they vote); otherwise the club's
 * staff and admins. Answers how: 'public' (a plain URL) or 'staff' (a signed one), or null.
 */
export async function hearingOf(scope: Scope, song: Song): Promise<'public' | 'staff' | null> {
  if (await scope.loaders.onOfferBySong.load(song.id)) return 'public';
  return (await isStaffOf(scope, song.clubId)) ? 'staff' : null;
}

/**
 * The song's audio for this viewer: null when it has none; FORBIDDEN when the viewer may
 * not hear it (see `hearingOf`). A public song's URL is plain; anyone else's is signed and
 * plays for MEDIA_URL_SECONDS from this request.
 */
export async function audioOf(scope: Scope, song: Song): Promise<SongAudioModel | null> {
  const hearing = await hearingOf(scope, song);
  if (!hearing) throw forbidden("Only the club's staff may hear a song that is not on offer in a vote session");
  const audio = await scope.loaders.audioBySong.load(song.id);
  if (!audio) return null;
  const media = scope.media;
  const base = `${media.origin()}/songs/${song.id}/audio`;
  const expiresAtS = Math.floor(Date.now() / 1000) + media.urlSeconds;
  return {
    url: hearing === 'public' ? base : `${base}?${media.signer.playback(song.id, expiresAtS)}`,
    contentType: audio.contentType,
    bytes: audio.bytes,
    durationSeconds: audio.durationSeconds,
    sha256: audio.sha256,
    uploadedAt: audio.uploadedAt,
  };
}

/**
 * The club's catalogue by case-folded title (then id), keyset-paginated; `search` is a
 * case-insensitive part of the title or the artist.
 */
export async function songsOfClub(scope: Scope, club: Club, search: string | null | undefined, page: { first?: number | null; after?: string | null }) {
  const request = pageRequest(page.first, page.after, 2);
  const term = search?.trim() || null;
  if (term !== null && term.length > 100) throw badInput('search must be at most 100 characters');
  const sortKey = sql`lower(${songs.title}) collate "C"`;
  const [afterTitle, afterId] = request.after ?? [];
  if (request.after && !isUuid(String(afterId))) throw badInput('"after" is not a cursor from this connection');
  const rows = await scope.db
    .select()
    .from(songs)
    .where(
      and(
        eq(songs.clubId, club.id),
        term === null ? undefined : or(ilike(songs.title, `%${escapeLike(term)}%`), ilike(songs.artist, `%${escapeLike(term)}%`)),
        request.after ? sql`(${sortKey}, ${songs.id}) > (lower(${String(afterTitle)}) collate "C", ${String(afterId)}::uuid)` : undefined,
      ),
    )
    .orderBy(sortKey, asc(songs.id))
    .limit(request.first + 1);
  for (const row of rows) scope.loaders.songById.prime(row.id, row);
  return toConnection(rows, request, (s) => [s.title, s.id]);
}

/**
 * A single-use URL to PUT the song's audio file to (its club's managers, and admins),
 * valid for MEDIA_UPLOAD_TICKET_SECONDS. `bytes` is the file's exact size, at most
 * MEDIA_MAX_BYTES; `contentType` what the uploader believes it is (an `audio/…` type).
 */
export async function requestSongUpload(scope: Scope, input: { songId: string; contentType: string; bytes: number }): Promise<UploadTicket> {
  const song = isUuid(input.songId) ? await scope.loaders.songById.load(input.songId) : null;
  if (!song) throw notFound('Song', input.songId);
  await requireManagerOf(scope, song.clubId, 'attach audio to songs');
  if (!AUDIO_TYPE.test(input.contentType)) throw badInput(`contentType must be an audio type such as audio/mpeg, got ${JSON.stringify(input.contentType.slice(0, 80))}`);
  const { maxBytes, uploadTicketSeconds } = scope.media;
  if (input.bytes < 1 || input.bytes > maxBytes) throw badInput(`bytes must be 1 to ${maxBytes} (MEDIA_MAX_BYTES), got ${input.bytes}`);
  const user = await scope.currentUser();
  const [upload] = await scope.db
    .insert(songUploads)
    .values({
      songId: song.id,
      requestedBy: user.id,
      declaredType: input.contentType.toLowerCase(),
      bytes: input.bytes,
      expiresAt: sql`now() + make_interval(secs => ${uploadTicketSeconds})`,
    })
    .returning();
  return { url: `${scope.media.origin()}/uploads/${scope.media.signer.ticket(upload!.id)}`, expiresAt: upload!.expiresAt };
}

/**
 * Takes the body of `PUT /uploads/<ticket>` into storage and attaches it to the song.
 * The ticket is claimed first (single use, on every instance, whatever becomes of the
 * upload); the body streams through an AudioIntake (sniffed, size-checked, hashed,
 * measured) into an object of its own, `songs/<songId>/<uploadId>`. Only once it is
 * complete does `Song.audio` change, in one transaction that also locks the song (so two
 * uploads of one song replace each other in order); the object it replaced is deleted
 * after the commit. Whatever is refused or fails leaves no object and no row behind.
 * Throws MediaRefusal for what the client must be told.
 */
export async function receiveSongUpload(
  scope: Scope,
  ticket: string,
  body: Readable,
  declaredLength: number | undefined,
  warn: (error: unknown, message: string) => void,
): Promise<SongAudio> {
  const { storage, signer, maxBytes } = scope.media;
  const uploadId = signer.uploadIdOf(ticket);
  if (uploadId === null || !isUuid(uploadId)) throw new MediaRefusal('FORBIDDEN', 'This upload URL was not issued by this server');
  const [upload] = await scope.db
    .update(songUploads)
    .set({ claimedAt: sql`now()` })
    .where(and(eq(songUploads.id, uploadId), isNull(songUploads.claimedAt), gt(songUploads.expiresAt, sql`now()`)))
    .returning();
  if (!upload) {
    const [known] = await scope.db.select().from(songUploads).where(eq(songUploads.id, uploadId));
    if (!known) throw new MediaRefusal('NOT_FOUND', 'No such upload (its song may have been removed)');
    if (known.claimedAt) throw new MediaRefusal('TICKET_USED', 'This upload URL was already used; ask requestSongUpload for another');
    throw new MediaRefusal('TICKET_EXPIRED', `This upload URL expired at ${known.expiresAt.toISOString()}; ask requestSongUpload for another`);
  }
  const limit = upload.bytes < maxBytes ? { bytes: upload.bytes, what: "the ticket's size" } : { bytes: maxBytes, what: 'MEDIA_MAX_BYTES' };
  if (declaredLength !== undefined && declaredLength > limit.bytes) {
    throw new MediaRefusal('PAYLOAD_TOO_LARGE', `Content-Length ${declaredLength} is more than ${limit.what} (${limit.bytes} bytes)`);
  }

  const key = `songs/${upload.songId}/${upload.id}`;
  const intake = new AudioIntake(upload.bytes, limit);
  // Not pipeline(): a refusal must not destroy the request, whose socket still carries the answer.
  body.once('error', (error) => intake.destroy(error));
  body.pipe(intake);
  let replaced: string | undefined;
  let audio: SongAudio;
  try {
    await storage.put(key, intake, upload.declaredType);
    const facts = await intake.facts;
    ({ audio, replaced } = await scope.db.transaction(async (tx) => {
      const [song] = await tx.select({ id: songs.id }).from(songs).where(eq(songs.id, upload.songId)).for('update');
      if (!song) throw new MediaRefusal('NOT_FOUND', 'The song was removed while its file was uploaded');
      const [previous] = await tx.select({ storageKey: songAudio.storageKey }).from(songAudio).where(eq(songAudio.songId, upload.songId));
      const values = { storageKey: key, ...facts, uploadedAt: sql`now()` };
      const [written] = await tx
        .insert(songAudio)
        .values({ songId: upload.songId, ...values })
        .onConflictDoUpdate({ target: songAudio.songId, set: values })
        .returning();
      await tx.update(songUploads).set({ completedAt: sql`now()` }).where(eq(songUploads.id, upload.id));
      return { audio: written!, replaced: previous?.storageKey };
    }));
  } catch (error) {
    body.unpipe(intake);
    await storage.delete(key).catch((cause: unknown) => warn(cause, 'could not remove a refused upload from media storage'));
    throw error;
  }
  // After the commit: until then the old file was still the song's audio.
  if (replaced && replaced !== key) {
    await storage.delete(replaced).catch((cause: unknown) => warn(cause, 'could not remove a replaced audio file from media storage'));
  }
  return audio;
}

/**
 * The song's audio row if this request may play it: with a signature `Song.audio.url`
 * carried (still before its expiry), or without one for a song on offer (see
 * `hearingOf`). Throws MediaRefusal otherwise.
 */
export async function playableAudio(scope: Scope, songId: string, signed: { expires: string | null; signature: string | null }): Promise<SongAudio> {
  const song = isUuid(songId) ? await scope.loaders.songById.load(songId) : null;
  const audio = song && (await scope.loaders.audioBySong.load(song.id));
  if (!song || !audio) throw new MediaRefusal('NOT_FOUND', 'This song has no audio');
  if (signed.expires !== null || signed.signature !== null) {
    const expiresAtS = Number(signed.expires);
    if (!Number.isSafeInteger(expiresAtS) || !scope.media.signer.playbackValid(song.id, expiresAtS, signed.signature ?? '')) {
      throw new MediaRefusal('FORBIDDEN', 'This playback URL was not signed by this server');
    }
    if (expiresAtS * 1000 <= Date.now()) throw new MediaRefusal('FORBIDDEN', 'This playback URL has expired: read Song.audio.url again');
    return audio;
  }
  if ((await hearingOf(scope, song)) === null) {
    throw new MediaRefusal('FORBIDDEN', 'This song is not on offer in a vote session: play it from the signed URL in Song.audio.url');
  }
  return audio;
}

/** The bytes of the audio (or a range of them), streamed from storage. */
export function audioBytes(scope: Scope, audio: SongAudio, range?: ByteRange): Promise<Readable> {
  return scope.media.storage.get(audio.storageKey, range);
}
