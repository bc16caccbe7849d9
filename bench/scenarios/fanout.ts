import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import type WebSocket from 'ws';
import { bookings, clubs, nights, tableSessions, tables, users } from '../../src/db/schema.js';
import { insertClub, insertTables, insertUser } from '../fixtures.js';
import { post } from '../http.js';
import { percentile } from '../load.js';
import { sampleMemory } from '../memory.js';
import { ms, round } from '../report.js';
import type { RunContext, Scenario, StartedServer, Summary } from '../scenario.js';
import { subscribeSse } from '../sse-clients.js';
import { connect, checkOpenFiles, openInBatches, subscribe, versionOf } from '../ws-clients.js';

// Everyone on one night's live floor plan: one change, thousands of sockets to tell.
const subscription = /* GraphQL */ `
  subscription($n: ID!) { availabilityChanged(nightId: $n) { version freeTables { id label } tables { state table { id label } } } }
`;
const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;
const CANCEL = `mutation($id: ID!) { cancelBooking(id: $id) { id } }`;

const TABLES = 30;
/** Sockets opened at a time. */
const BATCH = 500;
const COMMIT_EVERY_MS = 2_000;
/** Per socket, to open and (for subscribers) receive the first event. */
const OPEN_TIMEOUT_MS = 30_000;

export const fanout: Scenario = {
  name: 'fanout',
  connections: 10_000,

  async prepare({ db, tag, sign }) {
    const now = new Date().toISOString();
    const guest = await insertUser(db, `${tag}-fanout-guest`, 'Bench guest');
    const club = await insertClub(db, `${tag}-fanout-club`, 'Bench fan-out club');
    await insertTables(db, { id: club.id }, { count: TABLES, perRow: 10 });
    const [night] = await db
      .insert(nights)
      .values({ clubId: club.id, startsAt: sql`${now}::timestamptz - interval '2 hours'`, endsAt: sql`${now}::timestamptz + interval '4 hours'` })
      .returning();
    // A floor in use: T1–T6 booked, T7–T8 held, T9–T12 seated; the bench holds and releases T30.
    const tableOf = (label: string) => sql`(select id from ${tables} where club_id = ${club.id}::uuid and label = ${label})`;
    for (let t = 1; t <= 8; t += 1) {
      await db.insert(bookings).values({
        nightId: night!.id,
        tableId: tableOf(`T${t}`),
        userId: guest.id,
        partySize: 2,
        status: t <= 6 ? 'confirmed' : 'held',
        holdExpiresAt: t <= 6 ? null : sql`now() + interval '12 hours'`,
        idempotencyKey: `seed-${t}`,
        requestHash: 'bench',
      });
    }
    for (let t = 9; t <= 12; t += 1) {
      await db.insert(tableSessions).values({ nightId: night!.id, tableId: tableOf(`T${t}`), openedBy: guest.id });
    }
    const [free] = await db.select({ id: tables.id }).from(tables).where(sql`${tables.clubId} = ${club.id} and ${tables.label} = 'T30'`);
    const token = await sign({ subject: guest.subject, roles: ['guest'], clubIds: [] });

    return {
      kind: 'run',
      run: (ctx) => run(ctx, { nightId: night!.id, tableId: free!.id, token }),
      async remove() {
        await db.delete(clubs).where(eq(clubs.id, club.id));
        await db.delete(users).where(eq(users.id, guest.id));
      },
    };
  },
};

interface Night {
  nightId: string;
  tableId: string;
  token: string;
  /** The bench's hold on the table, if it has one now: the next measurement cancels it first. */
  held?: string | undefined;
}

/** One side of the comparison: latencies of every receipt, and memory. */
interface Side {
  sockets: number;
  failed: number;
  firstFailure: string | undefined;
  openS: number;
  events: number;
  latenciesMs: number[];
  expected: number;
  lost: number;
  baselineBytes: number;
  /** Once every socket is open, before the first event. */
  openBytes: number;
  peakBytes: number;
  /** Just before each event, then after the last: whether memory settles or keeps growing. */
  eventBytes: number[];
  /** Floor only: how long the bare server's loop over `send` took, per broadcast. */
  sendMs?: number[];
}

async function run(ctx: RunContext, night: Night): Promise<Summary> {
  const count = ctx.connections;
  const events = Math.max(1, Math.round((ctx.durationS * 1000) / COMMIT_EVERY_MS));
  // This process holds one end of every socket, each server the other.
  checkOpenFiles(count + 1_000, ctx.log);

  const measure = async (transport: Transport) => {
    const server = await ctx.startServer();
    try {
      return await measureServer(ctx, server, night, count, events, transport);
    } finally {
      await server.stop();
    }
  };
  const measured = await measure('ws');
  ctx.log('the same over Server-Sent Events (graphql-sse, one connection per subscriber)');
  const sse = await measure('sse');
  const floor = await measureFloor(ctx, measured.message, count, events);
  return summarize(measured.side, floor, measured.message.length, sse.side);
}

type Transport = 'ws' | 'sse';

/** Subscribes `count` sockets to the night, then commits a change every 2 s and times each receipt. */
async function measureServer(ctx: RunContext, server: StartedServer, night: Night, count: number, commits: number, transport: Transport) {
  const wsUrl = server.url.replace(/^http/, 'ws');
  const streamUrl = `${server.url}/stream`;
  await sleep(1_000);
  const memory = sampleMemory(server);
  const baselineBytes = await memory.now();
  memory.start();

  const sentAt = new Map<number, number>();
  const latenciesMs: number[] = [];
  let message: Buffer | undefined;
  let lost = 0;
  const onNext = (data: Buffer, at: number) => {
    message ??= data;
    const started = sentAt.get(versionOf(data));
    if (started !== undefined) latenciesMs.push(at - started);
  };
  const payload = { query: subscription, variables: { n: night.nightId } };
  const opening = performance.now();
  const { sockets, failed, firstFailure } = await openInBatches(
    count,
    BATCH,
    () =>
      transport === 'ws'
        ? subscribe(wsUrl, payload, onNext, () => (lost += 1), OPEN_TIMEOUT_MS)
        : subscribeSse(streamUrl, payload, onNext, () => (lost += 1), OPEN_TIMEOUT_MS),
    (opened) => opened % 2_000 < BATCH && ctx.log(`${opened} subscribers have their first event`),
    ctx.signal,
  );
  const openS = (performance.now() - opening) / 1000;
  const openBytes = await memory.now();
  try {
    if (!message) throw new Error(`no subscriber got an event${firstFailure ? `: ${firstFailure}` : ''}`);
    let version = versionOf(message);
    let done = 0;
    ctx.log(`committing ${commits} changes, one every ${COMMIT_EVERY_MS / 1000} s`);
    const eventBytes: number[] = [];
    for (let i = 0; i < commits; i += 1) {
      ctx.signal.throwIfAborted();
      eventBytes.push(await memory.now());
      const started = performance.now();
      sentAt.set(version + 1, started);
      const outcome = night.held ? await mutate(server.url, night.token, CANCEL, { id: night.held }) : await hold(server.url, night, i);
      if (outcome.ok) {
        night.held = night.held ? undefined : outcome.id;
        version += 1;
        done += 1;
      } else {
        sentAt.delete(version + 1);
        ctx.log(`commit ${i + 1} failed: ${outcome.error}`);
      }
      await sleep(Math.max(0, started + COMMIT_EVERY_MS - performance.now()));
    }
    const side: Side = {
      sockets: sockets.length,
      failed,
      firstFailure,
      openS,
      events: done,
      latenciesMs,
      expected: done * sockets.length,
      lost,
      baselineBytes,
      openBytes,
      peakBytes: await memory.stop(),
      eventBytes: [...eventBytes, await memory.now()],
    };
    return { side, message };
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

/** The same number of clients on a bare `ws` server broadcasting `message` every 2 s. */
async function measureFloor(ctx: RunContext, message: Buffer, count: number, broadcasts: number): Promise<Side> {
  const child = fork(fileURLToPath(new URL('../ws-floor.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const sockets: WebSocket[] = [];
  try {
    const sendMs: number[] = [];
    const port = await new Promise<number>((resolve, reject) => {
      child.on('message', (m: { port?: number; sendMs?: number }) => {
        if (m.port !== undefined) resolve(m.port);
        if (m.sendMs !== undefined) sendMs.push(m.sendMs);
      });
      child.once('exit', (code) => reject(new Error(`the floor server exited with ${code}`)));
    });
    child.send({ payload: message.toString('utf8') });
    const memory = sampleMemory({ pid: child.pid, url: undefined });
    const baselineBytes = await memory.now();
    memory.start();
    let roundStarted = 0;
    const latenciesMs: number[] = [];
    const opening = performance.now();
    const opened = await openInBatches(
      count,
      BATCH,
      () => connect(`ws://127.0.0.1:${port}`, (_data, at) => latenciesMs.push(at - roundStarted), OPEN_TIMEOUT_MS),
      (n) => n % 2_000 < BATCH && ctx.log(`floor: ${n} clients connected`),
      ctx.signal,
    );
    sockets.push(...opened.sockets);
    const openS = (performance.now() - opening) / 1000;
    const openBytes = await memory.now();
    ctx.log(`floor: ${broadcasts} broadcasts, one every ${COMMIT_EVERY_MS / 1000} s`);
    const eventBytes: number[] = [];
    for (let i = 0; i < broadcasts; i += 1) {
      ctx.signal.throwIfAborted();
      eventBytes.push(await memory.now());
      roundStarted = performance.now();
      child.send({ broadcast: true });
      await sleep(COMMIT_EVERY_MS);
    }
    return {
      sockets: sockets.length,
      failed: opened.failed,
      firstFailure: opened.firstFailure,
      openS,
      events: broadcasts,
      latenciesMs,
      expected: broadcasts * sockets.length,
      lost: 0,
      baselineBytes,
      openBytes,
      peakBytes: await memory.stop(),
      eventBytes: [...eventBytes, await memory.now()],
      sendMs,
    };
  } finally {
    for (const socket of sockets) socket.terminate();
    child.kill();
  }
}

async function hold(url: string, night: Night, attempt: number) {
  const input = { nightId: night.nightId, tableId: night.tableId, partySize: 2, idempotencyKey: `fanout-${Date.now()}-${attempt}` };
  return mutate(url, night.token, HOLD, { input });
}

/** A mutation answering with an object that has an id: that id, or what went wrong instead. */
async function mutate(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const answer = await post(url, token, query, variables);
  const id = Object.values((answer.data ?? {}) as Record<string, { id: string } | null>)[0]?.id;
  return id ? { ok: true as const, id } : { ok: false as const, error: answer.message ?? 'no id in the answer' };
}

const MB = 1024 * 1024;

function summarize(server: Side, floor: Side, messageBytes: number, sse: Side): Summary {
  const [s, f, e] = [stats(server), stats(floor), stats(sse)];
  const perStreamKiB = (sse.peakBytes - sse.baselineBytes) / 1024 / Math.max(1, sse.sockets);
  const perSubscriberKiB = (server.peakBytes - server.baselineBytes) / 1024 / Math.max(1, server.sockets);
  const perClientKiB = (floor.peakBytes - floor.baselineBytes) / 1024 / Math.max(1, floor.sockets);
  const ratio = s.p99Ms / f.p99Ms;
  const line = (label: string, side: Side, st: ReturnType<typeof stats>, kib: number, what: string) =>
    [
      `fanout  ${label.padEnd(6)}`,
      `${side.sockets} ${what}${side.failed ? ` (${side.failed} failed: ${side.firstFailure})` : ''} opened in ${side.openS.toFixed(1)} s`,
      `${side.events} events of ${messageBytes} B`,
      `p50 ${ms(st.p50Ms)}`,
      `p95 ${ms(st.p95Ms)}`,
      `p99 ${ms(st.p99Ms)}`,
      `max ${ms(st.maxMs)}`,
      `missing ${st.missing}${side.lost ? ` (${side.lost} sockets lost)` : ''}`,
      `rss ${(side.baselineBytes / MB).toFixed(0)} → ${(side.openBytes / MB).toFixed(0)} open → ${(side.peakBytes / MB).toFixed(0)} MB peak`,
      `${kib.toFixed(1)} KiB/socket`,
      ...(side.sendMs?.length ? [`send loop p50 ${ms(median(side.sendMs))}`] : []),
    ].join('  ');
  return {
    lines: [
      line('server', server, s, perSubscriberKiB, 'subscribers'),
      line('sse', sse, e, perStreamKiB, 'event streams'),
      line('floor', floor, f, perClientKiB, 'clients'),
      `fanout  server/floor  p99 ${ratio.toFixed(2)}×  sse/floor  p99 ${(e.p99Ms / f.p99Ms).toFixed(2)}×`,
    ],
    fields: {
      subscribers: server.sockets,
      failed: server.failed,
      events: server.events,
      messageBytes,
      ...fields(server, s),
      memoryMb: memoryMb(server),
      perSubscriberKiB: round(perSubscriberKiB, 2),
      floor: {
        clients: floor.sockets,
        ...fields(floor, f),
        memoryMb: memoryMb(floor),
        perClientKiB: round(perClientKiB, 2),
        sendLoopMs: floor.sendMs?.map((v) => round(v, 1)),
      },
      ratio: round(ratio, 2),
      sse: {
        streams: sse.sockets,
        failed: sse.failed,
        events: sse.events,
        ...fields(sse, e),
        memoryMb: memoryMb(sse),
        perStreamKiB: round(perStreamKiB, 2),
        ratio: round(e.p99Ms / f.p99Ms, 2),
      },
    },
  };
}

function median(values: number[]): number {
  return percentile(Float64Array.from(values).sort(), 50);
}

function memoryMb(side: Side) {
  return {
    baseline: round(side.baselineBytes / MB, 1),
    open: round(side.openBytes / MB, 1),
    peak: round(side.peakBytes / MB, 1),
    beforeEachEvent: side.eventBytes.map((b) => round(b / MB, 1)),
  };
}

function stats(side: Side) {
  const sorted = Float64Array.from(side.latenciesMs).sort();
  return {
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    receipts: sorted.length,
    missing: side.expected - sorted.length,
  };
}

function fields(side: Side, st: ReturnType<typeof stats>) {
  return {
    openS: round(side.openS, 1),
    receipts: st.receipts,
    missing: st.missing,
    lost: side.lost,
    p50Ms: round(st.p50Ms, 2),
    p95Ms: round(st.p95Ms, 2),
    p99Ms: round(st.p99Ms, 2),
    maxMs: round(st.maxMs, 2),
  };
}
