import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { guestTokens } from '../fixtures.js';
import { post } from '../http.js';
import { percentile } from '../load.js';
import { ms, round } from '../report.js';
import type { RunContext, Scenario, Summary } from '../scenario.js';
import { checkOpenFiles, openInBatches, subscribe } from '../ws-clients.js';
import { prepareSession, removeSession, voterSubject } from './vote-results.js';

// A DJ asks the floor to vote: a burst of votes while the screens watch the standings live.
const SUBSCRIPTION = `subscription($id: ID!) { voteResultsChanged(sessionId: $id) { version totalVotes } }`;
const CAST = `mutation($input: CastVoteInput!) { castVote(input: $input) { id } }`;
const RESULTS = `query($id: ID!) { voteSession(id: $id) { results { version totalVotes } } }`;

const SONGS = 5;
/** Votes per second, each from a user of its own. */
const RATE = 2_000;
/** The burst lasts this long whatever --duration says: the voters are created beforehand. */
const BURST_S = 10;
const TICK_MS = 5;
/** More votes than this waiting for an answer: the server is not keeping up, skip. */
const MAX_IN_FLIGHT = 200;
const OPEN_BATCH = 100;
const OPEN_TIMEOUT_MS = 30_000;
/** After the last answer: long enough for the last coalesced push (250 ms by default). */
const SETTLE_MS = 2_000;

export const voteBurst: Scenario = {
  name: 'vote-burst',
  connections: 1_000,
  async prepare(ctx) {
    const voters = Math.round(RATE * BURST_S * ctx.scale);
    const { sessionId, songIds, key } = await prepareSession(ctx, 'burst', SONGS, voters);
    // The token subjects are the users' subjects: the server finds them, it creates none.
    const tokens = await guestTokens(ctx.sign, Array.from({ length: voters }, (_, i) => voterSubject(key, i + 1)));
    return { kind: 'run', run: (run) => burst(run, { sessionId, songIds, tokens }), remove: () => removeSession(ctx.db, key) };
  },
};

interface Session {
  sessionId: string;
  songIds: string[];
  tokens: string[];
}

/** What one subscriber saw: when each push arrived, and the last totalVotes. */
interface Seen {
  at: number[];
  lastTotal: number;
}

async function burst(ctx: RunContext, session: Session): Promise<Summary> {
  checkOpenFiles(ctx.connections + 2_000, ctx.log);
  const server = await ctx.startServer();
  const seen: Seen[] = [];
  let lost = 0;
  try {
    const wsUrl = server.url.replace(/^http/, 'ws');
    const payload = { query: SUBSCRIPTION, variables: { id: session.sessionId } };
    const { sockets, failed, firstFailure } = await openInBatches(
      ctx.connections,
      OPEN_BATCH,
      () => {
        const mine: Seen = { at: [], lastTotal: -1 };
        return subscribe(wsUrl, payload, (data, at) => {
          mine.at.push(at);
          mine.lastTotal = totalOf(data);
        }, () => (lost += 1), OPEN_TIMEOUT_MS).then((socket) => (seen.push(mine), socket));
      },
      (opened) => opened % 500 < OPEN_BATCH && ctx.log(`${opened} subscribers have their first push`),
      ctx.signal,
    );
    if (failed > 0) ctx.log(`${failed} subscribers failed: ${firstFailure}`);
    try {
      ctx.log(`casting ${session.tokens.length} votes at ${RATE}/s`);
      const votes = await castVotes(server.url, session, ctx.signal);
      await sleep(SETTLE_MS);
      const answer = await post(server.url, session.tokens[0]!, RESULTS, { id: session.sessionId });
      const queried = (answer.data as { voteSession?: { results: { totalVotes: number } } } | undefined)?.voteSession?.results.totalVotes ?? -1;
      return summarize({ ...votes, queried, seen, lost, sockets: sockets.length, failed });
    } finally {
      for (const socket of sockets) socket.terminate();
    }
  } finally {
    await server.stop();
  }
}

/** Casts one vote per token at RATE, each for a random song; returns what happened. */
async function castVotes(url: string, session: Session, signal: AbortSignal) {
  const latenciesMs: number[] = [];
  const errors = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let sent = 0;
  let succeeded = 0;
  const vote = async (token: string) => {
    const songId = session.songIds[Math.floor(Math.random() * session.songIds.length)]!;
    const started = performance.now();
    const answer = await post(url, token, CAST, { input: { sessionId: session.sessionId, songId } });
    latenciesMs.push(performance.now() - started);
    if (answer.code) errors.set(answer.code, (errors.get(answer.code) ?? 0) + 1);
    else succeeded += 1;
  };
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = signal.aborted ? session.tokens.length : Math.min(session.tokens.length, Math.floor(((performance.now() - start) / 1000) * RATE));
      for (; issued < due; issued += 1) {
        if (signal.aborted || inFlight.size >= MAX_IN_FLIGHT) continue;
        sent += 1;
        const op = vote(session.tokens[issued]!);
        inFlight.add(op);
        void op.finally(() => inFlight.delete(op));
      }
      if (issued >= session.tokens.length) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.allSettled([...inFlight]);
  return { seconds: (performance.now() - start) / 1000, start, issued, sent, succeeded, errors, latenciesMs };
}

function totalOf(data: Buffer): number {
  const match = /"totalVotes":(\d+)/.exec(data.toString('utf8'));
  return match ? Number(match[1]) : -1;
}

interface Outcome {
  seconds: number;
  start: number;
  issued: number;
  sent: number;
  succeeded: number;
  errors: Map<string, number>;
  latenciesMs: number[];
  queried: number;
  seen: Seen[];
  lost: number;
  sockets: number;
  failed: number;
}

function summarize(o: Outcome): Summary {
  const sorted = Float64Array.from(o.latenciesMs).sort();
  const [p50, p95, p99] = [50, 95, 99].map((p) => percentile(sorted, p)) as [number, number, number];
  // Pushes after the burst began (the first push, on subscribing, is not one), per second of the burst.
  const rates = o.seen.map((s) => s.at.filter((t) => t >= o.start).length / o.seconds);
  const meanRate = rates.reduce((a, b) => a + b, 0) / Math.max(1, rates.length);
  const maxRate = Math.max(0, ...rates);
  const maxInSecond = Math.max(0, ...o.seen.map((s) => maxInWindow(s.at, 1000)));
  const minGapMs = Math.min(...o.seen.map((s) => minGap(s.at.filter((t) => t >= o.start))));
  const lastTotals = o.seen.map((s) => s.lastTotal);
  const [lowest, highest] = [Math.min(...lastTotals), Math.max(...lastTotals)];
  const allCounted = o.queried === o.succeeded && lowest === o.succeeded && highest === o.succeeded;
  const errorList = [...o.errors].sort((a, b) => b[1] - a[1]);
  const skipped = o.issued - o.sent;
  return {
    lines: [
      [
        `vote-burst  ${o.sent} votes sent in ${o.seconds.toFixed(1)} s (${(o.sent / o.seconds).toFixed(0)}/s)${skipped ? `, ${skipped} skipped (over ${MAX_IN_FLIGHT} in flight)` : ''}`,
        `${o.succeeded} succeeded`,
        `errors ${errorList.length === 0 ? 0 : errorList.map(([code, n]) => `${code} ${n}`).join(', ')}`,
        `p50 ${ms(p50)}`,
        `p95 ${ms(p95)}`,
        `p99 ${ms(p99)}`,
      ].join('  '),
      [
        `vote-burst  ${o.sockets} subscribers${o.failed ? ` (${o.failed} failed)` : ''}${o.lost ? ` (${o.lost} lost)` : ''}`,
        `pushes/s per subscriber mean ${meanRate.toFixed(2)} max ${maxRate.toFixed(2)}`,
        `most in any 1 s ${maxInSecond}`,
        `min gap ${ms(minGapMs)}`,
      ].join('  '),
      [
        `vote-burst  last push totalVotes ${lowest === highest ? lowest : `${lowest}..${highest}`}`,
        `query totalVotes ${o.queried}`,
        `succeeded ${o.succeeded}`,
        allCounted ? 'all votes counted' : 'NOT all votes counted',
      ].join('  '),
    ],
    fields: {
      rate: RATE,
      burstS: round(o.seconds, 2),
      sent: o.sent,
      skipped,
      succeeded: o.succeeded,
      errors: Object.fromEntries(errorList),
      p50Ms: round(p50, 2),
      p95Ms: round(p95, 2),
      p99Ms: round(p99, 2),
      subscribers: o.sockets,
      failedSubscribers: o.failed,
      lostSubscribers: o.lost,
      pushesPerSecond: { mean: round(meanRate, 2), max: round(maxRate, 2), maxInAnySecond: maxInSecond },
      minGapMs: round(minGapMs, 1),
      lastPushTotal: { lowest, highest },
      queriedTotal: o.queried,
      allCounted,
    },
  };
}

/** The most timestamps of ascending `at` within any `windowMs`. */
function maxInWindow(at: number[], windowMs: number): number {
  let most = 0;
  for (let first = 0, last = 0; last < at.length; last += 1) {
    while (at[last]! - at[first]! >= windowMs) first += 1;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

function minGap(at: number[]): number {
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < at.length; i += 1) gap = Math.min(gap, at[i]! - at[i - 1]!);
  return gap;
}
