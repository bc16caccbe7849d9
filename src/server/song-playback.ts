import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../platform/logger.js';
import { audioBytes, playableAudio } from '../modules/music/service.js';
import type { Scope } from '../modules/scope.js';
import { byteRangeOf } from './byte-ranges.js';
import { sendMediaJson, sendRefusal } from './media-answers.js';

/**
 * `GET`/`HEAD /songs/<songId>/audio[?expires=…&signature=…]`: the song's audio streamed
 * from media storage. ETag is the file's sha256 (`If-None-Match` → 304); one `Range` →
 * 206 with Content-Range, past the end → 416. Who may play is `playableAudio`'s rule.
 */
export function createSongPlaybackRoute(scopeFor: () => Scope, logger: Logger) {
  return async function play(req: IncomingMessage, res: ServerResponse, songId: string, query: URLSearchParams): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendMediaJson(res, 405, { error: 'Play the file with GET', code: 'BAD_USER_INPUT' });
    }
    const scope = scopeFor();
    let audio;
    try {
      audio = await playableAudio(scope, songId, { expires: query.get('expires'), signature: query.get('signature') });
    } catch (error) {
      return sendRefusal(res, error);
    }
    const etag = `"${audio.sha256}"`;
    res.setHeader('etag', etag);
    res.setHeader('accept-ranges', 'bytes');
    // Signed URLs are the viewer's own; a public one is the same for everyone, and revalidated (the file may be replaced).
    res.setHeader('cache-control', query.has('signature') ? 'private, no-cache' : 'public, no-cache');
    const match = req.headers['if-none-match'];
    if (match !== undefined && (match.trim() === '*' || match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag))) {
      res.statusCode = 304;
      return void res.end();
    }
    const range = byteRangeOf(req.headers.range, audio.bytes);
    if (range === 'unsatisfiable') {
      res.setHeader('content-range', `bytes */${audio.bytes}`);
      return sendMediaJson(res, 416, { error: `The file has ${audio.bytes} bytes`, code: 'RANGE_NOT_SATISFIABLE' });
    }
    res.setHeader('content-type', audio.contentType);
    if (range === 'whole') {
      res.statusCode = 200;
      res.setHeader('content-length', audio.bytes);
    } else {
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${range.start}-${range.end}/${audio.bytes}`);
      res.setHeader('content-length', range.end - range.start + 1);
    }
    if (req.method === 'HEAD') return void res.end();
    const bytes = await audioBytes(scope, audio, range === 'whole' ? undefined : range);
    // A listener who stops mid-file ends the pipeline with an error: nothing to answer then.
    await pipeline(bytes, res).catch((error: unknown) => {
      if (!res.destroyed || res.writableFinished) logger.warn({ err: error }, 'streaming a song\'s audio failed');
    });
  };
}
