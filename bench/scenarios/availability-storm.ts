import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { percentile } from '../load.js';
import { ms, round } from '../report.js';
import { allOf, type Scenario, type SideLoad } from '../scenario.js';
import { cacheOn, cacheSplit, prepareNights, versionWatch, type FreeTable } from './availability.js';

// The availability polling, while guests hold tables and cancel them all over the nights.
export const availabilityStorm: Scenario = {
  name: 'availability-storm',
  connections: 100,
  variants: [cacheOn],
  async prepare(ctx) {
    const { polling, free, guestSubjects } = await prepareNights(ctx, 'storm');
    const tokens = await Promise.all(guestSubjects.map((subject) => ctx.sign({ subject, roles: ['guest'], clubIds: [] })));
    return {
      ...polling,
      observe: () => allOf(versionWatch(), cacheSplit()),
      alongside: (url, signal) => startWriter(url, tokens, free, signal),
    };
  },
};

/** Mutations per second, holds and cancels together. */
const RATE = 200;
/** A hold is cancelled once it is this old, so about as many holds as cancels are made. */
const HOLD_MS = 1_000;
/** More than this many mutations waiting for an answer: the server is not keeping up, skip. */
const MAX_IN_FLIGHT = 100;
const TICK_MS = 5;
/** The writer's stop waits for answers at most this long. */
const MUTATION_TIMEOUT_MS = 10_000;

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;
const CANCEL = `mutation($id: ID!) { cancelBooking(id: $id) { id status } }`;

interface Held {
  id: string;
  token: string;
  at: number;
}

/** Holds random free tables as random guests and cancels each hold a second later, at RATE in all. */
function startWriter(url: string, tokens: string[], free: FreeTable[], signal: AbortSignal): SideLoad {
  const run = randomBytes(4).toString('hex');
  const scheduled = performance.now();
  let started = scheduled;
  const held: Held[] = [];
  const inFlight = new Set<Promise<void>>();
  const latenciesMs: number[] = [];
  const errors = new Map<string, number>();
  let issued = 0;
  let holds = 0;
  let cancels = 0;
  let skipped = 0;

  const mutate = async (token: string, query: string, variables: Record<string, unknown>) => {
    const sent = performance.now();
    const answer = await post(url, token, JSON.stringify({ query, variables }));
    latenciesMs.push(performance.now() - sent);
    if (answer.code) errors.set(answer.code, (errors.get(answer.code) ?? 0) + 1);
    return answer.data;
  };
  const hold = async () => {
    const { nightId, tableId } = free[Math.floor(Math.random() * free.length)]!;
    const token = tokens[Math.floor(Math.random() * tokens.length)]!;
    const input = { nightId, tableId, partySize: 2, idempotencyKey: `${run}-${issued}` };
    const data = (await mutate(token, HOLD, { input })) as { holdTable?: { id: string } } | undefined;
    if (!data?.holdTable) return;
    holds += 1;
    held.push({ id: data.holdTable.id, token, at: performance.now() });
  };
  const cancel = async ({ id, token }: Held) => {
    const data = (await mutate(token, CANCEL, { id })) as { cancelBooking?: { status: string } } | undefined;
    if (data?.cancelBooking?.status === 'CANCELLED') cancels += 1;
  };

  const timer = setInterval(() => {
    if (signal.aborted) return;
    const due = Math.floor(((performance.now() - scheduled) / 1000) * RATE);
    for (; issued < due; issued += 1) {
      if (inFlight.size >= MAX_IN_FLIGHT) {
        skipped += 1;
        continue;
      }
      const oldest = held[0];
      const op = oldest && performance.now() - oldest.at >= HOLD_MS ? cancel(held.shift()!) : hold();
      inFlight.add(op);
      void op.finally(() => inFlight.delete(op));
    }
  }, TICK_MS);

  return {
    measuring() {
      started = performance.now();
      latenciesMs.length = 0;
      errors.clear();
      holds = cancels = skipped = 0;
    },
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
      const seconds = (performance.now() - started) / 1000;
      const sorted = Float64Array.from(latenciesMs).sort();
      const p50Ms = percentile(sorted, 50);
      const p99Ms = percentile(sorted, 99);
      const errorList = [...errors].sort((a, b) => b[1] - a[1]);
      const perSecond = (holds + cancels) / seconds;
      return {
        lines: [
          [
            `writer: ${holds} holds + ${cancels} cancels in ${seconds.toFixed(1)} s = ${perSecond.toFixed(1)}/s`,
            `p50 ${ms(p50Ms)}`,
            `p99 ${ms(p99Ms)}`,
            `errors ${errorList.length === 0 ? 0 : errorList.map(([code, n]) => `${code} ${n}`).join(', ')}`,
            ...(skipped > 0 ? [`skipped ${skipped} (over ${MAX_IN_FLIGHT} in flight)`] : []),
          ].join('  '),
        ],
        fields: {
          writer: {
            holds,
            cancels,
            perSecond: round(perSecond, 1),
            p50Ms: round(p50Ms, 2),
            p99Ms: round(p99Ms, 2),
            errors: Object.fromEntries(errorList),
            skipped,
          },
        },
      };
    },
  };
}

/** One mutation: its `data`, or the code of its first error (HTTP status, TRANSPORT, TIMEOUT). */
export async function post(url: string, token: string, body: string): Promise<{ data?: unknown; code?: string }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      // A signal per request: undici leaves a listener on a shared one for every fetch.
      signal: AbortSignal.timeout(MUTATION_TIMEOUT_MS),
    });
    const answer = (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    const first = answer.errors?.[0];
    if (first) return { code: first.extensions?.code ?? 'UNKNOWN' };
    if (!response.ok) return { code: `HTTP ${response.status}` };
    return { data: answer.data };
  } catch (error) {
    return { code: error instanceof DOMException && error.name === 'TimeoutError' ? 'TIMEOUT' : 'TRANSPORT' };
  }
}
