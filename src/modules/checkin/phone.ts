/**
 * A phone number as stored and matched: digits with an optional leading "+", the usual
 * separators removed. Null when the text is not a phone number (6 to 20 digits).
 */
export function normalizePhone(text: string): string | null {
  const compact = text.trim().replace(/[\s().-]/g, '');
  return /^\+?\d{6,20}$/.test(compact) ? compact : null;
}
