import type { IncomingMessage } from 'node:http';

export const NUL_MESSAGE = 'Text must not contain NUL characters (U+0000)';

/** True if any string in the parsed JSON holds a NUL character: no stored text can contain one. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => containsNul(k) || containsNul(v));
  return false;
}

/**
 * A POST body as GraphQL over HTTP takes it: JSON when the content type says so (parsed,
 * and refused if it holds a NUL), text otherwise; refused with 413 past `maxBytes`,
 * before it is read when its length says so.
 */
export async function readGraphQLBody(
  req: IncomingMessage,
  maxBytes: number,
): Promise<{ kind: 'ok'; body: unknown } | { kind: 'refused'; status: 400 | 413; message: string }> {
  const tooLarge = { kind: 'refused', status: 413, message: `Request body exceeds ${maxBytes} bytes` } as const;
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return tooLarge;
  const read = await readBody(req, maxBytes);
  if (read.kind === 'too-large') return tooLarge;
  if (!(req.headers['content-type'] ?? '').includes('json')) return { kind: 'ok', body: read.text };
  let body: unknown;
  try {
    body = JSON.parse(read.text);
  } catch {
    return { kind: 'refused', status: 400, message: 'Request body is not valid JSON' };
  }
  // JSON carries a NUL only as the escape \u0000: most bodies need no walk.
  if (read.text.includes('\\u0000') && containsNul(body)) return { kind: 'refused', status: 400, message: NUL_MESSAGE };
  return { kind: 'ok', body };
}

async function readBody(req: IncomingMessage, limit: number): Promise<{ kind: 'ok'; text: string } | { kind: 'too-large' }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return { kind: 'too-large' };
    chunks.push(chunk);
  }
  return { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') };
}

