import type { IncomingMessage, ServerResponse } from 'node:http';
import type { createSongPlaybackRoute } from './song-playback.js';
import type { createSongUploadRoute } from './song-upload.js';

const UPLOAD = /^\/uploads\/([A-Za-z0-9_.-]{1,200})$/;
const PLAYBACK = /^\/songs\/([0-9a-fA-F-]{36})\/audio$/;

/** `PUT /uploads/<ticket>` and `GET /songs/<songId>/audio`: answers whether the path was one of them. */
export function createMediaRoutes(upload: ReturnType<typeof createSongUploadRoute>, play: ReturnType<typeof createSongPlaybackRoute>) {
  return async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const uploadMatch = UPLOAD.exec(path);
    if (uploadMatch) return upload(req, res, uploadMatch[1]!).then(() => true);
    const playMatch = PLAYBACK.exec(path);
    if (playMatch) return play(req, res, playMatch[1]!.toLowerCase(), new URL(req.url ?? '/', 'http://localhost').searchParams).then(() => true);
    return false;
  };
}
