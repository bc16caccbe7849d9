/**
 * Reads a `timestamp with time zone` as PostgreSQL writes it in its ISO style —
 * `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM]` — into a `Date`, or returns undefined for
 * anything else (years before 100 or past 9999, BC, `infinity`, an offset with seconds), which callers hand
 * to `new Date`. `new Date` reads this format through V8's slower legacy parser; a
 * dashboard's rows carry hundreds of these. Fractions beyond milliseconds are cut, as
 * `new Date` does.
 */
export function parseTimestamptz(text: string): Date | undefined {
  const length = text.length;
  if (length < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 32) return undefined;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  // Date.UTC reads years 0–99 as 1900–1999.
  if (year < 100 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  let at = 19;
  let millis = 0;
  if (text.charCodeAt(at) === 46) {
    at += 1;
    let scale = 100;
    while (at < length) {
      const digit = text.charCodeAt(at) - 48;
      if (digit < 0 || digit > 9) break;
      millis += digit * scale;
      scale /= 10;
      at += 1;
    }
    millis = Math.floor(millis);
  }
  const sign = text.charCodeAt(at);
  if (sign !== 43 && sign !== 45) return undefined;
  const offsetHours = digits(text, at + 1, 2);
  if (offsetHours < 0) return undefined;
  let offsetMinutes = 0;
  if (at + 3 === length) {
    // ±HH
  } else if (at + 6 === length && text.charCodeAt(at + 3) === 58) {
    offsetMinutes = digits(text, at + 4, 2);
    if (offsetMinutes < 0) return undefined;
  } else {
    return undefined;
  }
  const offset = (sign === 43 ? 1 : -1) * (offsetHours * 60 + offsetMinutes);
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000);
}

/** The number written by `count` decimal digits at `from`; -1 if any is not a digit. */
function digits(text: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i += 1) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}
