import { request } from 'node:http';
import { Readable } from 'node:stream';

export interface PutAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * PUTs a body the way curl --upload-file does, streamed. The answer is read as soon as it
 * comes, even while the body is still being sent (a refusal arrives mid-upload); the
 * connection then breaking under the rest of the body is expected, not an error.
 */
export function putFile(url: string, body: Buffer | Readable, headers: Record<string, string | number> = {}): Promise<PutAnswer> {
  return new Promise((resolve, reject) => {
    const length = Buffer.isBuffer(body) ? body.length : undefined;
    const req = request(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', ...(length !== undefined && { 'content-length': length }), ...headers } });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
      res.on('error', reject);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    source.on('error', (error) => req.destroy(error));
    source.pipe(req);
  });
}
