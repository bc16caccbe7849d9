import type { ServerResponse } from 'node:http';
import { MediaRefusal } from '../modules/music/errors.js';

/** The `{ error, code }` body of the upload and playback routes. */
export function sendMediaJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** A MediaRefusal as its status and body; anything else is thrown on, for the listener's 500. */
export function sendRefusal(res: ServerResponse, error: unknown): void {
  if (!(error instanceof MediaRefusal)) throw error;
  sendMediaJson(res, error.status, { error: error.message, code: error.code });
}
