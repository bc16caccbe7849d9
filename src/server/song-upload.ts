import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../platform/logger.js';
import { MediaRefusal } from '../modules/music/errors.js';
import { receiveSongUpload } from '../modules/music/service.js';
import type { Scope } from '../modules/scope.js';
import { sendMediaJson, sendRefusal } from './media-answers.js';

/** A refused upload's remaining body is read and dropped this long (so the client sees the answer), then the connection is cut. */
const DISCARD_GRACE_MS = 2_000;

/**
 * `PUT /uploads/<ticket>`: the body of a song's audio file, streamed to media storage as
 * it arrives (see `receiveSongUpload`). 201 with the stored facts; otherwise a status and
 * `{ error, code }` (docs/api.md lists them). A refused body is not read further than
 * needed: the answer goes out at once, with `Connection: close`.
 */
export function createSongUploadRoute(scopeFor: () => Scope, logger: Logger) {
  return async function upload(req: IncomingMessage, res: ServerResponse, ticket: string): Promise<void> {
    if (req.method !== 'PUT') {
      res.setHeader('allow', 'PUT');
      return sendMediaJson(res, 405, { error: 'Upload the file with PUT', code: 'BAD_USER_INPUT' });
    }
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    try {
      const audio = await receiveSongUpload(scopeFor(), ticket, req, Number.isSafeInteger(length) ? length : undefined, (err, message) =>
        logger.warn({ err }, message),
      );
      sendMediaJson(res, 201, {
        songId: audio.songId,
        contentType: audio.contentType,
        bytes: audio.bytes,
        durationSeconds: audio.durationSeconds,
        sha256: audio.sha256,
        uploadedAt: audio.uploadedAt.toISOString(),
      });
    } catch (error) {
      if (!req.complete) {
        res.setHeader('connection', 'close');
        req.resume();
        setTimeout(() => req.destroy(), DISCARD_GRACE_MS).unref();
      }
      // A client that went away mid-body is no refusal: there is nobody left to answer.
      if (!(error instanceof MediaRefusal) && req.destroyed) return void logger.info('an upload ended when its client went away');
      sendRefusal(res, error);
    }
  };
}
