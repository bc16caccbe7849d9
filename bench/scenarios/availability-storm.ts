import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { guestTokens } from '../fixtures.js';
import { post } from '../http.js';
import { percentile } from '../load.js';
import { pace } from '../pace.js';
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
    const tokens = await guestTokens(ctx.sign, guestSubjects);
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
  let started = performance.now();
  const held: Held[] = [];
  const latenciesMs: number[] = [];
  const errors = new Map<string, number>();
  let holds = 0;
  let cancels = 0;

  const mutate = async (token: string, query: string, variables: Record<string, unknown>) => {
    const sent = performance.now();
    const answer = await post(url, token, query, variables);
    latenciesMs.push(performance.now() - sent);
    if (answer.code) errors.set(answer.code, (errors.get(answer.code) ?? 0) + 1);
    return answer.data;
  };
  const hold = async (n: number) => {
    const { nightId, tableId } = free[Math.floor(Math.random() * free.length)]!;
    const token = tokens[Math.floor(Math.random() * tokens.length)]!;
    const input = { nightId, tableId, partySize: 2, idempotencyKey: `${run}-${n}` };
    const data = (await mutate(token, HOLD, { input })) as { holdTable?: { id: string } } | undefined;
    if (!data?.holdTable) return;
    holds += 1;
    held.push({ id: data.holdTable.id, token, at: performance.now() });
  };
  const cancel = async ({ id, token }: Held) => {
    const data = (await mutate(token, CANCEL, { id })) as { cancelBooking?: { status: string } } | undefined;
    if (data?.cancelBooking?.status === 'CANCELLED') cancels += 1;
  };

  const writes = pace({ rate: RATE, maxInFlight: MAX_IN_FLIGHT, tickMs: TICK_MS, signal }, (n) => {
    const oldest = held[0];
    return oldest && performance.now() - oldest.at >= HOLD_MS ? cancel(held.shift()!) : hold(n);
  });

  return {
    measuring() {
      started = performance.now();
      latenciesMs.length = 0;
      errors.clear();
      holds = cancels = 0;
      writes.resetSkipped();
    },
    async stop() {
      await writes.stop();
      const skipped = writes.skipped();
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
