import type { ByteRange } from '../platform/media-storage.js';

/**
 * Reads a `Range` header against a file of `size` bytes (RFC 9110 §14): one range of
 * `bytes=a-b`, `bytes=a-` or `bytes=-n`, clamped to the file. Answers 'whole' when there is
 * no header, or one this route ignores (other units, several ranges, a malformed one: the
 * RFC lets a server answer those with the whole file), and 'unsatisfiable' for a range
 * that starts past the end (416).
 */
export function byteRangeOf(header: string | undefined, size: number): ByteRange | 'whole' | 'unsatisfiable' {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'whole';
  const [, first, last] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return 'whole';
  return { start, end };
}
