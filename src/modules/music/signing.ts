import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMACs for upload tickets and playback URLs, under a key derived from the server's token
 * secret (never the secret itself, so a signature says nothing about the key that signs
 * bearer tokens). Every instance sharing `JWT_SECRET` accepts the others' URLs.
 */
export interface MediaSigner {
  /** The ticket `<uploadId>.<signature>` for an upload row. */
  ticket(uploadId: string): string;
  /** The upload id a ticket carries, or null when this server did not sign it. */
  uploadIdOf(ticket: string): string | null;
  /** The query string `expires=<unix s>&signature=…` that lets anyone play the song until then. */
  playback(songId: string, expiresAtS: number): string;
  /** Whether the signature is ours for this song and expiry (an expired one is still ours: the caller checks the time). */
  playbackValid(songId: string, expiresAtS: number, signature: string): boolean;
}

export function createMediaSigner(tokenSecret: string): MediaSigner {
  const key = createHmac('sha256', tokenSecret).update('nightgraph media signing v1').digest();
  const sign = (message: string) => createHmac('sha256', key).update(message).digest('base64url');
  const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  return {
    ticket: (uploadId) => `${uploadId}.${sign(`upload:${uploadId}`)}`,
    uploadIdOf(ticket) {
      const dot = ticket.indexOf('.');
      if (dot < 0) return null;
      const uploadId = ticket.slice(0, dot);
      return same(ticket.slice(dot + 1), sign(`upload:${uploadId}`)) ? uploadId : null;
    },
    playback: (songId, expiresAtS) => `expires=${expiresAtS}&signature=${sign(`play:${songId}:${expiresAtS}`)}`,
    playbackValid: (songId, expiresAtS, signature) => same(signature, sign(`play:${songId}:${expiresAtS}`)),
  };
}
