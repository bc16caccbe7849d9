import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from '../../src/db/timestamptz.js';

describe('reading PostgreSQL timestamps with a time zone', () => {
  it('gives the same instant as new Date for every shape PostgreSQL writes in its ISO style', () => {
    const samples = [
      '2026-12-02 07:00:38+00',
      '2026-12-02 07:00:38.1+00',
      '2026-12-02 07:00:38.02+00',
      '2026-12-02 07:00:38.123+00',
      '2026-12-02 07:00:38.123456+00',
      '2026-12-02 07:00:38.999999+00',
      '2026-12-02 23:59:59.5+05:30',
      '2026-03-29 01:30:00-08',
      '2026-01-01 00:00:00.007-03:30',
      '2024-02-29 12:00:00+05:45',
      '1970-01-01 00:00:00+00',
      '0999-06-15 10:20:30.4+01',
      '9999-12-31 23:59:59.999+14',
    ];
    for (const text of samples) expect(parseTimestamptz(text)?.getTime(), text).toBe(new Date(text).getTime());
  });

  it('leaves anything else to new Date', () => {
    for (const text of ['0050-01-01 00:00:00+00', 'infinity', '-infinity', '2026-12-02 07:00:38+00:53:28', '2026-12-02 07:00:38+00 BC', '12026-12-02 07:00:38+00', '2026-12-02T07:00:38Z', '2026-12-02 07:00:38', '']) {
      expect(parseTimestamptz(text), text).toBeUndefined();
    }
  });
});
