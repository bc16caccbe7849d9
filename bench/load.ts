import autocannon from 'autocannon';
import type { IncomingHttpHeaders } from 'node:http';
import type { Answer, BenchRequest, Observer } from './scenario.js';

export interface LoadOptions {
  connections: number;
  durationS: number;
  /**
   * Requests per second over all connections (autocannon `overallRate`). Without it the
   * load is closed-loop: each connection sends its next request as soon as it has an answer.
   */
  rate?: number;
  signal: AbortSignal;
  /** Sees every 2xx answer with its request and its connection. */
  observer?: Observer;
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
  // autocannon gives `onResponse` the body but a context it resets for every request, and
  // right after it (synchronously, same client) emits `response` with the client: the
  // answer seen in the first is handed to the observer in the second.
  let answered: Omit<Answer, 'latencyMs'> | undefined;
  const observer = options.observer;

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
            setupRequest: (request, context) => {
              const sent = next();
              if (observer) (context as Sent).request = sent;
              return { ...request, body: sent.body, headers: { ...request.headers, ...sent.headers } };
            },
            // GraphQL reports resolver failures with status 200; they are errors all the same.
            onResponse: (status, body, context, headers) => {
              if (status < 200 || status >= 300) return;
              if (body.includes('"errors":')) graphqlErrors += 1;
              if (observer) answered = { body, headers: headers as IncomingHttpHeaders, request: (context as Sent).request };
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
    instance.on('response', (client, _status, _bytes, responseTimeMs) => {
      latenciesMs.push(responseTimeMs);
      if (answered) observer!.see({ ...answered, latencyMs: responseTimeMs }, client);
      answered = undefined;
    });
  });
}

/** autocannon's per-request context, as `setupRequest` leaves it for `onResponse`. */
interface Sent {
  request: BenchRequest;
}

/** Nearest-rank percentile of ascending `sorted`; NaN (null in JSON) without samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * Sends `count` requests one at a time and checks each answer: status 200, no GraphQL
 * `errors`, data of the expected shape. Returns the mean number of SQL statements per
 * request, from the `Server-Timing` header the server sets on every response; NaN when
 * some answer had no count (e.g. bytes served from a response cache without the header).
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
    statements += statementCount(response.headers.get('server-timing'));
  }
  return statements / count;
}

/** SQL statements of one request, from its `Server-Timing` header; NaN without a count. */
export function statementCount(serverTiming: string | string[] | null | undefined): number {
  const timing = /desc="(\d+) statements"/.exec(String(serverTiming ?? ''));
  return timing ? Number(timing[1]) : Number.NaN;
}
