import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, like, sql } from 'drizzle-orm';
import { clubs, users, webhooks } from '../../src/db/schema.js';
import { verifySignature } from '../../src/modules/notifications/webhook.js';
import { insertSelect } from '../database.js';
import { derivedIds, insertClub, insertPastGuests, insertTables, insertUser } from '../fixtures.js';
import { graphql } from '../http.js';
import { ms, round } from '../report.js';
import type { RunContext, Scenario, StartedServer, Summary } from '../scenario.js';

// A club messages everyone who ever booked there: one outbox row per guest, each delivered
// to the guest's webhook. How fast do the workers drain it, and is anything sent twice?
const SEND = /* GraphQL */ `
  mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id recipients sent failed pending } }
`;
const PROGRESS = /* GraphQL */ `query($id: ID!) { campaign(id: $id) { recipients sent failed pending } }`;

/** Outbox workers per server: one run each, a fresh campaign each. */
const WORKER_COUNTS = [1, 4] as const;
const TABLES = 50;
/** The issue's target, with the most workers: deliveries per second, and no duplicates. */
const TARGET_PER_S = 2_000;
/** Every SAMPLE-th guest's deliveries have their signature checked against the secret we inserted. */
const SIGNATURE_SAMPLE = 10;
/** No new delivery for this long: the drain is stuck, report what arrived. */
const STALL_MS = 30_000;
/** After the last delivery and pending = 0: time for a late duplicate to show up. */
const SETTLE_MS = 1_000;
const PROGRESS_EVERY_MS = 1_000;
const REQUEST_TIMEOUT_MS = 60_000;

export const campaignDrain: Scenario = {
  name: 'campaign-drain',

  async prepare({ db, scale, tag, sign }) {
    const guests = Math.max(100, Math.round(10_000 * scale));
    // The receiver must listen before the webhook rows name its port.
    const receiver = await startReceiver((u) => secretOf(tag, u));

    const manager = await insertUser(db, `${tag}-cd-manager`, 'Bench manager');
    const clubId = (await insertClub(db, `${tag}-campaign-club`, 'Bench campaign club')).id;
    const id = derivedIds(`${tag}-cd`);
    await insertTables(db, { id: clubId }, { count: TABLES, perRow: 10, id: id('table', 't') });
    await insertPastGuests(db, clubId, { guests, tables: TABLES, id, subjectPrefix: `${tag}-cd-user-` });
    // One webhook each; the path names the guest, so the receiver knows whose secret signed it.
    await insertSelect(
      db,
      webhooks,
      {
        userId: id('user', 'u'),
        url: sql`${`http://127.0.0.1:${receiver.port}/hook/`} || u`,
        secret: sql`'whsec_' || md5(${tag} || '-cd-secret-' || u)`,
      },
      sql`generate_series(1, ${guests}::int) u`,
    );

    const token = await sign({ subject: manager.subject, roles: ['manager'], clubIds: [clubId] });
    return {
      kind: 'run',
      run: (ctx) => run(ctx, { clubId, token, guests, receiver }),
      async remove() {
        receiver.close();
        // Tables, nights, bookings, campaigns and their outbox rows go with the club; webhooks with their user.
        await db.delete(clubs).where(eq(clubs.id, clubId));
        await db.delete(users).where(like(users.subject, `${tag}-cd-%`));
      },
    };
  },
};

/** The webhook secret of guest `u`, as the SQL above computes it. */
function secretOf(tag: string, u: number): string {
  return `whsec_${createHash('md5').update(`${tag}-cd-secret-${u}`).digest('hex')}`;
}

interface Setup {
  clubId: string;
  token: string;
  guests: number;
  receiver: Receiver;
}

// ---------------------------------------------------------------------------------------
// The receiver: answers 204 at once and counts deliveries by their delivery id.

interface Tally {
  /** Every POST, duplicates included. */
  deliveries: number;
  /** Distinct `nightgraph-delivery` ids. */
  ids: Set<string>;
  /** Distinct guests (by URL path). */
  guests: Set<number>;
  duplicates: number;
  /** Deliveries whose body names another campaign, or none. */
  foreign: number;
  signaturesChecked: number;
  badSignatures: number;
  /** Missing delivery or event header, or a body that is not JSON. */
  malformed: number;
  firstAt: number | undefined;
  lastAt: number | undefined;
  /** performance.now() of each distinct delivery, in arrival order. */
  arrivals: number[];
}

interface Receiver {
  port: number;
  /** Forgets everything; deliveries from now on count for `campaignId` (set once the mutation answers). */
  reset(): void;
  expect(campaignId: string): void;
  tally(): Tally;
  close(): void;
}

function emptyTally(): Tally {
  return {
    deliveries: 0,
    ids: new Set(),
    guests: new Set(),
    duplicates: 0,
    foreign: 0,
    signaturesChecked: 0,
    badSignatures: 0,
    malformed: 0,
    firstAt: undefined,
    lastAt: undefined,
    arrivals: [],
  };
}

async function startReceiver(secretOf: (guest: number) => string): Promise<Receiver> {
  let tally = emptyTally();
  /** Bodies seen before the campaign id was known: checked once it is. */
  let unchecked: string[] = [];
  let campaignId: string | undefined;
  const checkCampaign = (body: string) => {
    try {
      if ((JSON.parse(body) as { campaignId?: unknown }).campaignId !== campaignId) tally.foreign += 1;
    } catch {
      tally.malformed += 1;
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(204).end();
      const at = performance.now();
      const id = req.headers['nightgraph-delivery'];
      const guest = Number(/^\/hook\/(\d+)$/.exec(req.url ?? '')?.[1] ?? Number.NaN);
      const body = Buffer.concat(chunks).toString('utf8');
      tally.deliveries += 1;
      if (typeof id !== 'string' || typeof req.headers['nightgraph-event'] !== 'string' || !Number.isInteger(guest)) {
        tally.malformed += 1;
        return;
      }
      if (tally.ids.has(id)) {
        tally.duplicates += 1;
      } else {
        tally.ids.add(id);
        tally.arrivals.push(at);
      }
      tally.guests.add(guest);
      tally.firstAt ??= at;
      tally.lastAt = at;
      if (campaignId === undefined) unchecked.push(body);
      else checkCampaign(body);
      if (guest % SIGNATURE_SAMPLE === 0) {
        tally.signaturesChecked += 1;
        const header = req.headers['nightgraph-signature'];
        if (!verifySignature(secretOf(guest), body, typeof header === 'string' ? header : undefined)) tally.badSignatures += 1;
      }
    });
  });
  // The workers keep their connections; a short idle timeout would only make them reconnect.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  // Never what keeps the bench alive.
  server.unref();
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the webhook receiver has no port');
  return {
    port: address.port,
    reset() {
      tally = emptyTally();
      unchecked = [];
      campaignId = undefined;
    },
    expect(id) {
      campaignId = id;
      for (const body of unchecked) checkCampaign(body);
      unchecked = [];
    },
    tally: () => tally,
    close() {
      if (!server.listening) return;
      server.closeAllConnections();
      server.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// The runs.

interface Progress {
  recipients: number;
  sent: number;
  failed: number;
  pending: number;
}

interface Drain {
  workers: number;
  sendMs: number;
  recipients: number;
  /** Mutation answer → last distinct delivery at the receiver. */
  drainMs: number;
  /** Mutation answer → campaign.pending = 0 seen through GraphQL. */
  pendingZeroMs: number;
  /** Mutation answer → first delivery. */
  firstDeliveryMs: number;
  perS: number;
  /** Between the 10th and the 90th percentile of arrivals: the rate without start-up and tail. */
  steadyPerS: number;
  complete: boolean;
  tally: Tally;
  progress: Progress;
  cpu: CpuShare;
}

async function run(ctx: RunContext, setup: Setup): Promise<Summary> {
  const drains: Drain[] = [];
  try {
    for (const workers of WORKER_COUNTS) {
      ctx.signal.throwIfAborted();
      ctx.log(`${workers} outbox worker${workers === 1 ? '' : 's'}: starting the server`);
      const server = await ctx.startServer({ OUTBOX_WORKERS: String(workers) });
      try {
        drains.push(await drainOnce(ctx, server, setup, workers));
      } finally {
        await server.stop();
      }
    }
  } finally {
    setup.receiver.close();
  }
  return summarize(drains);
}

async function drainOnce(ctx: RunContext, server: StartedServer, setup: Setup, workers: number): Promise<Drain> {
  const { receiver } = setup;
  // Let the server finish starting (JIT, pool) before the clock runs.
  await sleep(500);
  receiver.reset();
  const cpu = cpuMeter(server.pid);
  const sentAt = performance.now();
  const sent = await graphql<{ sendCampaign: Progress & { id: string } }>(server.url, setup.token, SEND, {
    input: { clubId: setup.clubId, message: `Bench campaign, ${workers} worker(s), ${new Date().toISOString()}`, idempotencyKey: `bench-${workers}-${Date.now()}` },
  }, REQUEST_TIMEOUT_MS);
  const answeredAt = performance.now();
  const campaign = sent.sendCampaign;
  receiver.expect(campaign.id);
  ctx.log(`${workers} worker(s): sendCampaign wrote ${campaign.recipients} rows in ${ms(answeredAt - sentAt)}; draining`);
  if (campaign.recipients !== setup.guests) ctx.log(`expected ${setup.guests} recipients, the campaign has ${campaign.recipients}`);

  // Until the receiver has every notification once, or nothing new arrives for STALL_MS.
  let lastCount = 0;
  let lastChange = performance.now();
  let nextReport = performance.now() + PROGRESS_EVERY_MS;
  let complete = false;
  while (true) {
    ctx.signal.throwIfAborted();
    const seen = receiver.tally().ids.size;
    if (seen >= campaign.recipients) {
      complete = true;
      break;
    }
    const now = performance.now();
    if (seen !== lastCount) {
      lastCount = seen;
      lastChange = now;
    } else if (now - lastChange > STALL_MS) {
      ctx.log(`no delivery for ${STALL_MS / 1000} s: giving up with ${seen} of ${campaign.recipients}`);
      break;
    }
    if (now >= nextReport) {
      nextReport = now + PROGRESS_EVERY_MS;
      ctx.log(`${workers} worker(s): ${seen} of ${campaign.recipients} delivered after ${ms(now - answeredAt)}`);
    }
    await sleep(10);
  }
  const receivedAll = performance.now();
  const cpuShare = cpu.stop();

  // The rows are marked processed after their batch: pending reaches 0 a moment later.
  let progress = await campaignProgress(server.url, setup.token, campaign.id);
  while (complete && progress.pending > 0 && performance.now() - receivedAll < STALL_MS) {
    ctx.signal.throwIfAborted();
    await sleep(20);
    progress = await campaignProgress(server.url, setup.token, campaign.id);
  }
  const pendingZeroAt = performance.now();
  // A duplicate would come from a second claim of a delivered row: give it a moment.
  await sleep(SETTLE_MS);
  progress = await campaignProgress(server.url, setup.token, campaign.id);

  const tally = receiver.tally();
  const lastAt = tally.lastAt ?? answeredAt;
  const drainMs = lastAt - answeredAt;
  const arrivals = tally.arrivals;
  const p10 = arrivals[Math.floor(arrivals.length * 0.1)];
  const p90 = arrivals[Math.floor(arrivals.length * 0.9)];
  const steadyPerS = p10 !== undefined && p90 !== undefined && p90 > p10 ? (Math.floor(arrivals.length * 0.9) - Math.floor(arrivals.length * 0.1)) / ((p90 - p10) / 1000) : Number.NaN;
  return {
    workers,
    sendMs: answeredAt - sentAt,
    recipients: campaign.recipients,
    drainMs,
    pendingZeroMs: progress.pending === 0 ? pendingZeroAt - answeredAt : Number.NaN,
    firstDeliveryMs: tally.firstAt === undefined ? Number.NaN : tally.firstAt - answeredAt,
    perS: tally.ids.size / (drainMs / 1000),
    steadyPerS,
    complete,
    tally,
    progress,
    cpu: cpuShare,
  };
}

async function campaignProgress(url: string, token: string, id: string): Promise<Progress> {
  const { campaign } = await graphql<{ campaign: Progress | null }>(url, token, PROGRESS, { id }, REQUEST_TIMEOUT_MS);
  if (!campaign) throw new Error(`campaign ${id} not found`);
  return campaign;
}

// ---------------------------------------------------------------------------------------
// Where the CPU went during a drain (Linux /proc; NaN elsewhere): the server process, this
// process (the receiver), and the whole machine (the rest is mostly PostgreSQL).

interface CpuShare {
  /** Cores busy on average, over the drain's wall time. */
  server: number;
  bench: number;
  machine: number;
  cores: number;
}

function cpuMeter(pid: number | undefined) {
  const TICKS_PER_S = 100;
  const processTicks = () => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return Number.NaN;
    }
  };
  const machineTicks = () => {
    try {
      const cpus = readFileSync('/proc/stat', 'utf8').split('\n');
      const total = cpus[0]!.split(/\s+/).slice(1).map(Number);
      const idle = total[3]! + (total[4] ?? 0);
      return { busy: total.reduce((a, b) => a + b, 0) - idle, cores: cpus.filter((l) => /^cpu\d/.test(l)).length };
    } catch {
      return { busy: Number.NaN, cores: Number.NaN };
    }
  };
  const started = performance.now();
  const server0 = processTicks();
  const bench0 = process.cpuUsage();
  const machine0 = machineTicks();
  return {
    stop(): CpuShare {
      const seconds = (performance.now() - started) / 1000;
      const bench = process.cpuUsage(bench0);
      const machine = machineTicks();
      return {
        server: (processTicks() - server0) / TICKS_PER_S / seconds,
        bench: (bench.user + bench.system) / 1e6 / seconds,
        machine: (machine.busy - machine0.busy) / TICKS_PER_S / seconds,
        cores: machine.cores,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------

function summarize(drains: Drain[]): Summary {
  const name = 'campaign-drain';
  const lines = drains.flatMap((d) => {
    const t = d.tally;
    return [
      [
        `${name}  workers ${d.workers}`,
        `sendCampaign ${ms(d.sendMs)} (${d.recipients} rows)`,
        `drain ${(d.drainMs / 1000).toFixed(2)} s${d.complete ? '' : ` (INCOMPLETE: ${t.ids.size} of ${d.recipients})`}`,
        `${Math.round(d.perS)} deliveries/s (steady ${Number.isNaN(d.steadyPerS) ? 'n/a' : Math.round(d.steadyPerS)}/s)`,
        `first after ${ms(d.firstDeliveryMs)}`,
        `pending = 0 after ${Number.isNaN(d.pendingZeroMs) ? 'n/a' : `${(d.pendingZeroMs / 1000).toFixed(2)} s`}`,
      ].join('  '),
      [
        `${name}  workers ${d.workers}`,
        `received ${t.deliveries} (${t.ids.size} distinct ids, ${t.guests.size} guests)`,
        `duplicates ${t.duplicates}`,
        `other campaign ${t.foreign}`,
        `malformed ${t.malformed}`,
        `signatures ${t.signaturesChecked - t.badSignatures}/${t.signaturesChecked} valid`,
        `campaign sent ${d.progress.sent} failed ${d.progress.failed} pending ${d.progress.pending}`,
      ].join('  '),
      [
        `${name}  workers ${d.workers}`,
        `CPU during the drain (cores of ${d.cpu.cores}): server ${d.cpu.server.toFixed(2)}  bench+receiver ${d.cpu.bench.toFixed(2)}  whole machine (PostgreSQL and anything else running) ${d.cpu.machine.toFixed(2)}`,
      ].join('  '),
    ];
  });
  const most = drains.at(-1);
  const clean = drains.every(
    (d) => d.complete && d.tally.duplicates === 0 && d.tally.badSignatures === 0 && d.tally.foreign === 0 && d.tally.malformed === 0 && d.progress.failed === 0 && d.progress.pending === 0,
  );
  const met = most !== undefined && most.perS >= TARGET_PER_S && clean;
  if (most) {
    lines.push(
      `${name}  target ≥ ${TARGET_PER_S} deliveries/s with ${most.workers} workers and 0 duplicates: ${met ? 'met' : 'NOT met'} (${Math.round(most.perS)}/s, ${drains.reduce((n, d) => n + d.tally.duplicates, 0)} duplicates${clean ? '' : ', not every run was clean'})`,
    );
  }
  const one = drains[0];
  if (one && most && one !== most) lines.push(`${name}  ${most.workers} workers / ${one.workers} worker: ${(most.perS / one.perS).toFixed(2)}× deliveries/s`);
  return {
    lines,
    fields: {
      targetPerS: TARGET_PER_S,
      targetMet: met,
      runs: drains.map((d) => ({
        workers: d.workers,
        recipients: d.recipients,
        sendCampaignMs: round(d.sendMs, 1),
        drainS: round(d.drainMs / 1000, 3),
        pendingZeroS: round(d.pendingZeroMs / 1000, 3),
        firstDeliveryMs: round(d.firstDeliveryMs, 1),
        deliveriesPerS: round(d.perS, 1),
        steadyDeliveriesPerS: round(d.steadyPerS, 1),
        complete: d.complete,
        received: d.tally.deliveries,
        distinct: d.tally.ids.size,
        guests: d.tally.guests.size,
        duplicates: d.tally.duplicates,
        otherCampaign: d.tally.foreign,
        malformed: d.tally.malformed,
        signaturesChecked: d.tally.signaturesChecked,
        badSignatures: d.tally.badSignatures,
        campaign: d.progress,
        cpuCores: { server: round(d.cpu.server, 2), bench: round(d.cpu.bench, 2), machine: round(d.cpu.machine, 2), of: d.cpu.cores },
      })),
    },
  };
}
