import { readFileSync } from 'node:fs';

const SAMPLE_MS = 250;

/** Runs `sample` every 250 ms from `start` until `stop`, which samples once more. */
function every250ms(sample: () => Promise<void>) {
  let timer: NodeJS.Timeout | undefined;
  return {
    start() {
      timer = setInterval(() => void sample(), SAMPLE_MS);
    },
    async stop() {
      clearInterval(timer);
      await sample();
    },
  };
}

/**
 * The resident memory of a process in bytes: from /proc (Linux) for one the bench started,
 * else from the server's /metrics (NaN without `url`). `start` samples it every 250 ms
 * until `stop`, which returns the peak.
 */
export function sampleMemory(server: { pid: number | undefined; url: string | undefined }) {
  let peak = 0;
  const now = async (): Promise<number> => {
    if (server.pid !== undefined) {
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1];
        return Number(kb) * 1024;
      } catch {
        // Not Linux: ask the server.
      }
    }
    if (!server.url) return Number.NaN;
    const text = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
    return Number(/^nightgraph_process_resident_memory_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN);
  };
  const sampler = every250ms(async () => {
    peak = Math.max(peak, await now().catch(() => 0));
  });
  return {
    now,
    start: sampler.start,
    async stop() {
      await sampler.stop();
      return peak;
    },
  };
}

/** What the server's /metrics says of its memory: the V8 heap in use and the memory outside it (Buffers). */
export interface HeapReading {
  heapUsed: number;
  external: number;
}

/**
 * The peaks of the server's V8 heap and external memory, read from its /metrics every
 * 250 ms between `start` and `stop`: beside RSS, they tell the young generation's garbage
 * (heap), the Buffers not yet collected (external) and the allocator's own share (the rest).
 */
export function sampleHeap(url: string) {
  const metricsUrl = url.replace(/\/graphql$/, '/metrics');
  const peak: HeapReading = { heapUsed: 0, external: 0 };
  const now = async (): Promise<HeapReading> => {
    const text = await (await fetch(metricsUrl)).text();
    const gauge = (name: string) => Number(new RegExp(`^nightgraph_${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { heapUsed: gauge('nodejs_heap_size_used_bytes'), external: gauge('nodejs_external_memory_bytes') };
  };
  const sampler = every250ms(async () => {
    const reading = await now().catch(() => undefined);
    if (!reading) return;
    peak.heapUsed = Math.max(peak.heapUsed, reading.heapUsed);
    peak.external = Math.max(peak.external, reading.external);
  });
  return {
    now,
    start: sampler.start,
    async stop(): Promise<HeapReading> {
      await sampler.stop();
      return peak;
    },
  };
}
