import autocannon from 'autocannon';
import type { BenchRequest } from './scenario.js';

export interface LoadOptions {
  connections: number;
  durationS: number;
  /**
   * Requests per second over all connections (autocannon `overallRate`). Without it the
   * load is closed-loop: each connection sends its next request as soon as it has an answer.
   */
  rate?: number;
  signal: AbortSignal;
}

export interface LoadResult {
  /** Completed responses, whatever their status. */
  requests: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Transport errors and timeouts + non-2xx responses + 2xx responses carrying GraphQL `errors`. */
  errors: number;
  errorKinds: { transport: number; non2xx: number; graphql: number };
}

/**
 * Loads `url` with requests from `next` for the given time. Percentiles are exact, from
 * every response's latency: autocannon's summary has no p95, and in rate mode it
 * "corrects" latencies with an interval of 1/rate taken as milliseconds, which adds
 * made-up samples.
 */
export function runLoad(url: string, next: () => BenchRequest, options: LoadOptions): Promise<LoadResult> {
  options.signal.throwIfAborted();
  const latenciesMs: number[] = [];
  let graphqlErrors = 0;

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        connections: options.connections,
        duration: options.durationS,
        ...(options.rate ? { overallRate: options.rate, ignoreCoordinatedOmission: true } : {}),
        requests: [
          {
            setupRequest: (request) => {
              const { body, headers } = next();
              return { ...request, body, headers: { ...request.headers, ...headers } };
            },
            // GraphQL reports resolver failures with status 200; they are errors all the same.
            onResponse: (status, body) => {
              if (status >= 200 && status < 300 && body.includes('"errors":')) graphqlErrors += 1;
            },
          },
        ],
      },
      (error, result) => {
        options.signal.removeEventListener('abort', stop);
        if (error) return reject(error);
        const sorted = Float64Array.from(latenciesMs).sort();
        const transport = result.errors;
        resolve({
          requests: sorted.length,
          rps: sorted.length / result.duration,
          p50Ms: percentile(sorted, 50),
          p95Ms: percentile(sorted, 95),
          p99Ms: percentile(sorted, 99),
          errors: transport + result.non2xx + graphqlErrors,
          errorKinds: { transport, non2xx: result.non2xx, graphql: graphqlErrors },
        });
      },
    );
    const stop = () => instance.stop();
    options.signal.addEventListener('abort', stop, { once: true });
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      latenciesMs.push(responseTimeMs);
    });
  });
}

/** Nearest-rank percentile of ascending `sorted`; NaN (null in JSON) without samples. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * Sends `count` requests one at a time and checks each answer: status 200, no GraphQL
 * `errors`, data of the expected shape. Returns the mean number of SQL statements per
 * request, from the `Server-Timing` header the server sets on every response.
 */
export async function probe(
  url: string,
  next: () => BenchRequest,
  check: (data: unknown) => string | undefined,
  count: number,
  signal: AbortSignal,
): Promise<number> {
  let statements = 0;
  for (let i = 0; i < count; i += 1) {
    const { body, headers } = next();
    const response = await fetch(url, { method: 'POST', headers, body, signal });
    const text = await response.text();
    const problem = (reason: string) => new Error(`probe ${i + 1}: ${reason}\n${text.slice(0, 500)}`);
    if (response.status !== 200) throw problem(`status ${response.status}`);
    const answer = JSON.parse(text) as { data?: unknown; errors?: unknown[] };
    if (answer.errors?.length) throw problem(`${answer.errors.length} GraphQL errors`);
    const wrong = check(answer.data);
    if (wrong) throw problem(wrong);
    const timing = /desc="(\d+) statements"/.exec(response.headers.get('server-timing') ?? '');
    if (!timing) throw problem(`no SQL statement count in Server-Timing: ${response.headers.get('server-timing')}`);
    statements += Number(timing[1]);
  }
  return statements / count;
}
