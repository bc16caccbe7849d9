import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { ByteRange, MediaStorage } from './media-storage.js';

/** S3's smallest part: a multipart upload holds one part in memory while it is sent. */
const PART_BYTES = 5 * 1024 * 1024;

export interface S3MediaSettings {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
}

/**
 * Objects in an S3 bucket (or any S3-compatible store). A put is a multipart upload fed
 * from the stream one 5 MiB part at a time (`queueSize: 1`), so an upload holds at most
 * one part and the part being filled, whatever the file's size; a put whose stream fails
 * aborts the multipart upload, and S3 keeps none of its parts.
 */
export function createS3MediaStorage(settings: S3MediaSettings): MediaStorage {
  const client = new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.credentials && { credentials: settings.credentials }),
    // Checksums only where S3 requires them: the default (CRC32 trailers in aws-chunked
    // bodies, since SDK 3.729) is refused by many S3-compatible servers, and every file's
    // sha256 is computed by the upload itself anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = settings.bucket;

  return {
    kind: 's3',
    async put(key, body, contentType) {
      let bytes = 0;
      body.on('data', (chunk: Buffer) => (bytes += chunk.length));
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body: body, ContentType: contentType },
        partSize: PART_BYTES,
        queueSize: 1,
        leavePartsOnError: false,
      });
      // lib-storage reads the body itself; a body that errors must fail the upload, and
      // it does not always notice, so the body's error aborts it.
      const failed = new Promise<never>((_resolve, reject) => body.once('error', reject));
      try {
        await Promise.race([upload.done(), failed]);
      } catch (error) {
        await upload.abort().catch(() => {});
        // A single-part upload may have completed its PutObject before the error arrived.
        await client.send(new DeleteObjectCommand({ Bucket, Key: key })).catch(() => {});
        throw body.errored ?? error;
      }
      return bytes;
    },
    async get(key, range?: ByteRange) {
      const answer = await client.send(new GetObjectCommand({ Bucket, Key: key, ...(range && { Range: `bytes=${range.start}-${range.end}` }) }));
      return answer.Body as Readable;
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },
    async head(key) {
      try {
        const answer = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
        return { bytes: answer.ContentLength ?? 0 };
      } catch (error) {
        if (error instanceof NotFound || (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) return null;
        throw error;
      }
    },
    close() {
      client.destroy();
    },
  };
}
