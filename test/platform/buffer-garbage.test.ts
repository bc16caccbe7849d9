import { constants, PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { collectEvery } from '../../src/platform/buffer-garbage.js';

const MIB = 1024 * 1024;

/** The young-generation collections that started within [from, to). */
const minorBetween = (entries: PerformanceEntry[], from: number, to: number) =>
  entries.filter((e) => (e as PerformanceEntry & { detail?: { kind: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR && e.startTime >= from && e.startTime < to).length;

describe('collecting streamed chunks', () => {
  it('runs one young-generation collection each time the given number of bytes was counted, and none in between', async () => {
    const entries: PerformanceEntry[] = [];
    const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
    observer.observe({ entryTypes: ['gc'] });
    try {
      const counted = collectEvery(MIB);
      counted(1); // The first collection exposes the collector; it is not timed below.
      counted(MIB);
      // Nothing below allocates, so no collection starts but the ones asked for.
      const start = performance.now();
      for (let i = 0; i < 10; i += 1) counted(MIB);
      const tenMiB = performance.now();
      for (let i = 0; i < 1_000; i += 1) counted(1_000);
      const underOneMiB = performance.now();
      // Entries arrive after the collections, on a later turn of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(minorBetween(entries, start, tenMiB)).toBe(10);
      expect(minorBetween(entries, tenMiB, underOneMiB)).toBe(0);
    } finally {
      observer.disconnect();
    }
  });
});
