/**
 * Why the upload or playback route refused a request: its HTTP status and the `code` of
 * the `{ error, code }` body. A closed set, like the GraphQL codes in src/errors.ts (whose
 * names it reuses where they mean the same).
 */
export const MediaRefusalCode = {
  /** No such ticket, song or audio. 404. */
  NOT_FOUND: 'NOT_FOUND',
  /** A ticket or URL signature this server did not issue, a signed URL past its expiry, or a song that needs one. 403. */
  FORBIDDEN: 'FORBIDDEN',
  /** The upload ticket was already used (once, whatever became of that upload). 409. */
  TICKET_USED: 'TICKET_USED',
  /** The upload ticket's time ran out before its PUT began. 410. */
  TICKET_EXPIRED: 'TICKET_EXPIRED',
  /** The body ended before the ticket's size, or a request the route does not take. 400. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** The body is larger than its ticket or MEDIA_MAX_BYTES. 413. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The file's own bytes are not an audio container this server reads (a JPEG named audio/mpeg). 415. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** A `Range` that starts past the end of the file. 416. */
  RANGE_NOT_SATISFIABLE: 'RANGE_NOT_SATISFIABLE',
} as const;
export type MediaRefusalCode = (typeof MediaRefusalCode)[keyof typeof MediaRefusalCode];

const STATUS: Record<MediaRefusalCode, number> = {
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  TICKET_USED: 409,
  TICKET_EXPIRED: 410,
  BAD_USER_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
};

/** A refusal meant for the client: its message and code are part of the API. */
export class MediaRefusal extends Error {
  readonly status: number;
  constructor(
    readonly code: MediaRefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'MediaRefusal';
    this.status = STATUS[code];
  }
}
