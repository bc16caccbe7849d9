import { createHash } from 'node:crypto';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { collectEvery } from '../../platform/buffer-garbage.js';
import { MediaRefusal } from './errors.js';

/** The sniffer and the metadata parser, loaded with the first upload rather than at start-up. */
let readers: Promise<[typeof import('file-type'), typeof import('music-metadata')]> | undefined;
const loadReaders = () => (readers ??= Promise.all([import('file-type'), import('music-metadata')]));

/** Enough of a file's start for every container signature file-type knows (its own sample size). */
const SNIFF_BYTES = 4_100;

/** Every 4 MiB streamed through any upload, the read chunks that are done with are collected. */
const releaseChunks = collectEvery(4 * 1024 * 1024);

/** Audio containers music-metadata reads a duration from; MIDI and tracker modules are scores, not recordings. */
const NOT_RECORDINGS = new Set(['audio/midi', 'audio/x-it', 'audio/x-s3m', 'audio/x-xm']);

/** What an upload was found to be while it streamed through. */
export interface AudioFacts {
  contentType: string;
  bytes: number;
  sha256: string;
  durationSeconds: number | null;
}

/**
 * The stream an upload's body goes through on its way to storage: it passes bytes on as
 * they come and holds none back but the first 4 KiB, until they have been sniffed. It
 *  - refuses (415) a file whose first bytes are not an audio container, before anything
 *    is passed on, so storage receives no byte of it;
 *  - refuses (413) as soon as more than `limit` bytes arrived, and (400) a body that ends
 *    short of `expectedBytes`;
 *  - hashes every byte (sha256) and feeds a tee of them to music-metadata, which reads the
 *    format and duration as they pass. The tee shares the stream's backpressure: the body
 *    is read no faster than the parser reads, and the parser is fed nothing more once it
 *    has what it needs, so neither side can pile up bytes.
 * `facts` settles once the stream has ended and the parser has answered.
 */
export class AudioIntake extends Transform {
  readonly facts: Promise<AudioFacts>;
  private readonly hash = createHash('sha256');
  private head: Buffer[] = [];
  private headBytes = 0;
  private received = 0;
  private contentType: string | undefined;
  private readonly tee = new PassThrough();
  private parserDone = false;
  private parsed: Promise<number | null> | undefined;
  private settle!: { resolve: (facts: AudioFacts) => void; reject: (error: unknown) => void };

  constructor(
    private readonly expectedBytes: number,
    private readonly limit: { bytes: number; what: string },
  ) {
    super();
    this.facts = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Refusals reach the caller through the stream's error; `facts` then only must not go unhandled.
    this.facts.catch(() => {});
    this.once('error', (error) => {
      this.settle.reject(error);
      this.tee.destroy();
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    releaseChunks(chunk.length);
    if (this.received > this.limit.bytes) {
      return callback(new MediaRefusal('PAYLOAD_TOO_LARGE', `The file is larger than ${this.limit.what} (${this.limit.bytes} bytes)`));
    }
    if (this.contentType === undefined) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.headBytes < SNIFF_BYTES) return callback();
      this.startWith(Buffer.concat(this.head)).then(() => callback(), callback);
      return;
    }
    this.pass(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    const finish = async () => {
      if (this.received < this.expectedBytes) {
        throw new MediaRefusal('BAD_USER_INPUT', `The body ended after ${this.received} bytes; the ticket is for ${this.expectedBytes}`);
      }
      if (this.contentType === undefined) await this.startWith(Buffer.concat(this.head));
      this.tee.end();
      const durationSeconds = await this.parsed!;
      this.settle.resolve({ contentType: this.contentType!, bytes: this.received, sha256: this.hash.digest('hex'), durationSeconds });
    };
    finish().then(() => callback(), callback);
  }

  /** Sniffs the first bytes; an audio container starts the parser, anything else is refused. */
  private async startWith(head: Buffer): Promise<void> {
    this.head = [];
    const [{ fileTypeFromBuffer }, { parseStream }] = await loadReaders();
    const sniffed = await fileTypeFromBuffer(head);
    if (!sniffed || !sniffed.mime.startsWith('audio/') || NOT_RECORDINGS.has(sniffed.mime)) {
      const found = sniffed ? `${sniffed.mime} (.${sniffed.ext})` : 'no known file type';
      throw new MediaRefusal('UNSUPPORTED_MEDIA_TYPE', `The file's own bytes are not an audio container: found ${found}`);
    }
    this.contentType = sniffed.mime;
    this.parsed = parseStream(this.tee, { mimeType: sniffed.mime, size: this.expectedBytes }, { duration: true, skipCovers: true })
      .then((metadata) => metadata.format.duration ?? null)
      .catch((error: unknown) => {
        // Refused at once, not when the body ends: storage then stops receiving it.
        if (!this.destroyed) {
          this.destroy(new MediaRefusal('UNSUPPORTED_MEDIA_TYPE', `The file starts as ${sniffed.mime} but cannot be read as one: ${(error as Error).message}`));
        }
        return null;
      })
      .finally(() => {
        this.parserDone = true;
        this.tee.resume();
      });
    await this.pass(head);
  }

  /** Hashes the chunk, hands it to the parser (waiting while it is behind) and passes it on. */
  private async pass(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    // Once the parser is done the tee flows freely (resumed, unread), so 'drain' comes at once.
    if (!this.parserDone && !this.tee.write(chunk)) await new Promise((resolve) => this.tee.once('drain', resolve));
    this.push(chunk);
  }
}
