import type { Readable } from 'node:stream';
import type { Config } from '../config.js';
import { createFsMediaStorage } from './fs-media-storage.js';

/** An inclusive byte range, as HTTP's `Range: bytes=start-end` names one. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where songs' audio files are kept. Bytes always travel as streams: no implementation
 * holds a whole object in memory, so what a transfer costs is bounded by stream buffers
 * (and, for S3, one multipart part), whatever the file's size.
 */
export interface MediaStorage {
  readonly kind: 'fs' | 's3';
  /**
   * Stores the stream under `key`, answering the bytes written once the object is
   * complete. If the stream errors (a refused upload), nothing is left under `key` and
   * the stream's error is thrown.
   */
  put(key: string, body: Readable, contentType: string): Promise<number>;
  /** The object's bytes, or the range of them; throws if the object is missing. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes the object; removing a missing one is no error. */
  delete(key: string): Promise<void>;
  /** The object's size, or null when there is none under `key`. */
  head(key: string): Promise<{ bytes: number } | null>;
  /** Releases connections (S3's sockets); the filesystem has none. */
  close(): void;
}

/**
 * The storage the configuration names: S3 when `S3_BUCKET` is set, files under `MEDIA_DIR`
 * otherwise. The AWS SDK is loaded only for S3 (it is a tenth of a second of start-up).
 */
export async function openMediaStorage(config: Config['media']['storage']): Promise<MediaStorage> {
  if (config.kind !== 's3') return createFsMediaStorage(config.dir);
  const { createS3MediaStorage } = await import('./s3-media-storage.js');
  return createS3MediaStorage(config);
}
