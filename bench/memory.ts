import { readFileSync } from 'node:fs';

const SAMPLE_MS = 250;

/**
 * The resident memory of a process in bytes: from /proc (Linux) for one the bench started,
 * else from the server's /metrics (NaN without `url`). `start` samples it every 250 ms
 * until `stop`, which returns the peak.
 */
export function sampleMemory(server: { pid: number | undefined; url: string | undefined }) {
  let peak = 0;
  let timer: NodeJS.Timeout | undefined;
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
  const sample = async () => {
    peak = Math.max(peak, await now().catch(() => 0));
  };
  return {
    now,
    start() {
      timer = setInterval(() => void sample(), SAMPLE_MS);
    },
    async stop() {
      clearInterval(timer);
      await sample();
      return peak;
    },
  };
}
