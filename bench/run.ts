import { randomBytes } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { ownTokenService } from '../src/platform/tokens.js';
import { benchDatabaseConfig, benchRedisPrefix, createBenchDatabase, DEFAULT_ADMIN_URL } from './database.js';
import { probe, runLoad, type LoadResult } from './load.js';
import { formatLine, formatRatio, formatSummaries, writeJson, writeResult, type LoadShape, type Measurement } from './report.js';
import type { PreparedLoad, PreparedRun, PreparedScenario, Scenario, ServerVariant, StartedServer, Summary } from './scenario.js';
import { scenarios } from './scenarios/index.js';
import { startOtlpSink } from './otlp-sink.js';
import { startServer } from './server.js';

const PROBES = 5;
const DEFAULT_CONNECTIONS = 64;
/** What a scenario is measured on unless it names its own variants. */
const DEFAULT_VARIANTS: readonly ServerVariant[] = [
  { label: 'batched', env: { LOADER_BATCHING: 'true' } },
  { label: 'naive', env: { LOADER_BATCHING: 'false' } },
];
/**
 * One Ctrl-C reaches the bench twice: from the terminal, and relayed by the tsx wrapper a
 * moment later. Only a signal after this long is the user asking again.
 */
const SIGNAL_ECHO_MS = 1_000;
/** For the message when the user insists on exiting before the database is dropped. */
let benchDatabaseName: string | undefined;

const usage = `Usage: npm run bench -- <${scenarios.map((s) => s.name).join('|')}|all> [options]

  --connections N   concurrent connections (default ${DEFAULT_CONNECTIONS}, or the scenario's own:
                    ${scenarios.filter((s) => s.connections).map((s) => `${s.name} ${s.connections}`).join(', ')};
                    for fanout, WebSocket subscribers)
  --duration S      seconds measured per variant (default 20); fanout: one change every
                    2 s for S seconds, then as many broadcasts from a bare ws server;
                    fail-fast: 5 repetitions of each figure, whatever S
  --warmup S        seconds of load before measuring, discarded (default 3)
  --rate R          cap at R requests per second over all connections (autocannon
                    overallRate: each connection's budget refills every second, so requests
                    come in bursts, not evenly spaced); without it the load is closed-loop,
                    or the scenario's own: ${scenarios.filter((s) => s.rate).map((s) => `${s.name} ${s.rate}`).join(', ')}
                    (then measured closed-loop as well)
  --scale K         data set size multiplier (default 1)
  --url URL         load a running server's /graphql instead of starting one; DATABASE_URL
                    must be that server's database and JWT_SECRET its secret
  --naive-url URL   with --url: a second server, started with LOADER_BATCHING=false
                    (for availability: RESPONSE_CACHE=false)
  --workers N[,M…]  server processes per server (WEB_CONCURRENCY; above 1 needs REDIS_URL).
                    One count: every server the bench starts runs that many (floors stay
                    one process). Several, e.g. 1,2: the scenario's first variant is
                    measured once per count, side by side, with each count's req/s ÷ the
                    first's (a scenario that runs itself uses the first count)

Without --url the bench creates a database next to DATABASE_URL (default
${DEFAULT_ADMIN_URL}), starts the server twice per scenario (batched, then
LOADER_BATCHING=false; availability: RESPONSE_CACHE on, then off), and drops the
database at the end. The server inherits the environment, e.g. REDIS_URL (its keys get a
prefix of the run's own, deleted at the end as well); BENCH_NODE_FLAGS
adds node flags to its command line (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
fanout holds one end of every socket: it needs an open-file limit (ulimit -n; node raises
its soft limit to the hard one) above the subscriber count, and says so when it is not.`;

interface Options extends Omit<LoadShape, 'connections'> {
  scenarios: readonly Scenario[];
  /** Undefined: each scenario's default. */
  connections: number | undefined;
  warmupS: number;
  url: string | undefined;
  naiveUrl: string | undefined;
  /** WEB_CONCURRENCY of the servers the bench starts; several: compared side by side. Undefined: the server's default. */
  workers: number[] | undefined;
}

/** A server to measure: started for the run, or one that is already running. */
interface Variant {
  label: string;
  closedLoop?: boolean;
  floor?: string;
  /** Set when the variants compare server processes per server (`--workers 1,2`). */
  workers?: number;
  start(signal: AbortSignal): Promise<StartedServer>;
}

type Cleanup = () => Promise<unknown>;

/** Where the servers come from: started by the bench, or given with --url. */
interface Target {
  databaseUrl: string;
  jwtSecret: string;
  /** The servers a load scenario is measured on, in order. */
  variants(scenario: Scenario): Variant[];
  /** One server for a scenario that runs itself. */
  start(env: Record<string, string>, signal: AbortSignal): Promise<StartedServer>;
}

async function main(options: Options, signal: AbortSignal, cleanups: Cleanup[]): Promise<void> {
  const target = options.url ? externalTarget(options) : await benchTarget(cleanups, options.workers);

  const handle = await openDatabase(benchDatabaseConfig(target.databaseUrl));
  cleanups.push(() => handle.close());
  // A running server has migrated its database already, perhaps to another version than ours.
  if (!options.url) await migrate(handle);

  const tokens = ownTokenService(target.jwtSecret);
  const tag = `bench-${randomBytes(4).toString('hex')}`;
  const prepared: [Scenario, PreparedScenario][] = [];
  for (const scenario of options.scenarios) {
    signal.throwIfAborted();
    log(`generating the ${scenario.name} data set at scale ${options.scale}`);
    const ready = await scenario.prepare({ db: handle.db, scale: options.scale, tag, sign: (p) => tokens.sign(p) });
    if (options.url) cleanups.push(() => ready.remove());
    prepared.push([scenario, ready]);
  }
  // Fresh tables have no statistics; without them the planner guesses, and autovacuum
  // would analyze them mid-run and change plans under the measurement. Someone else's
  // database only gets the statistics: vacuuming all of it could take long.
  await handle.db.execute(options.url ? sql`analyze` : sql`vacuum analyze`);
  log(`data set: ${await rowCounts(handle.db)}`);

  const nameWidth = Math.max(...options.scenarios.map((s) => s.name.length));
  for (const [scenario, ready] of prepared) {
    const shape: LoadShape = {
      connections: options.connections ?? scenario.connections ?? DEFAULT_CONNECTIONS,
      durationS: options.durationS,
      rate: options.rate ?? scenario.rate,
      scale: options.scale,
    };
    if (ready.kind === 'run') {
      await runItself(scenario, ready, target, shape, signal);
      continue;
    }
    const measured: Measurement[] = [];
    const variants = target.variants(scenario);
    for (const variant of variants) {
      const load = variant.closedLoop ? { ...shape, rate: undefined } : shape;
      const measurement = await measure(scenario.name, variant, ready, { ...options, ...load }, signal);
      measured.push(measurement);
      console.log(formatLine(scenario.name, nameWidth, measurement, load));
      for (const line of formatSummaries(scenario.name, nameWidth, measurement)) console.log(line);
    }
    if (variants.some((v) => v.workers !== undefined)) {
      // Each count ÷ the first; the result file holds the last count on top, the first beside it.
      for (const later of measured.slice(1)) console.log(formatRatio(scenario.name, nameWidth, later, measured[0]!, shape.rate !== undefined));
      log(`wrote ${await writeResult(scenario.name, shape, measured.at(-1)!, measured[0])}`);
      continue;
    }
    const [first, second] = measured;
    // A rate-limited run is slower than a closed-loop one by design: no ratio between them.
    if (second && !variants.some((v) => v.closedLoop)) {
      console.log(formatRatio(scenario.name, nameWidth, first!, second, shape.rate !== undefined));
    }
    // Nightgraph ÷ the floor: the room left.
    const floorAt = variants.findIndex((v) => v.floor);
    if (floorAt > 1 && measured[floorAt]) console.log(formatRatio(scenario.name, nameWidth, first!, measured[floorAt]!, shape.rate !== undefined));
    log(`wrote ${await writeResult(scenario.name, shape, first!, second)}`);
  }
}

async function measure(
  scenario: string,
  variant: Variant,
  ready: PreparedLoad,
  options: Options & LoadShape,
  signal: AbortSignal,
): Promise<Measurement> {
  log(`${scenario} ${variant.label}: starting`);
  const server = await variant.start(signal);
  try {
    const load = { connections: options.connections, rate: options.rate, signal };
    const alongside = ready.alongside?.(server.url, signal, variant.label);
    let result: LoadResult;
    let sqlPerRequest: number;
    let side: Summary | undefined;
    const observer = ready.observe?.();
    try {
      if (options.warmupS > 0) {
        log(`${scenario} ${variant.label}: warming up for ${options.warmupS} s`);
        await runLoad(server.url, ready.next, { ...load, durationS: options.warmupS });
      }
      // After the warm-up, so that caches the server keeps count as they are under load.
      sqlPerRequest = await probe(server.url, ready.next, ready.check, PROBES, signal);
      log(`${scenario} ${variant.label}: measuring for ${options.durationS} s`);
      alongside?.measuring();
      result = await runLoad(server.url, ready.next, { ...load, durationS: options.durationS, observer });
    } finally {
      side = await alongside?.stop();
    }
    // An interrupted run stops early; its numbers mean nothing.
    signal.throwIfAborted();
    const summaries = [observer?.summary(), side].filter((s) => s !== undefined);
    return { label: variant.label, closedLoop: variant.closedLoop, ...result, sqlPerRequest, summaries };
  } finally {
    await server.stop();
  }
}

/** A scenario that drives the server itself: prints its lines, writes its result. */
async function runItself(scenario: Scenario, ready: PreparedRun, target: Target, shape: LoadShape, signal: AbortSignal) {
  const summary = await ready.run({
    startServer: (env = {}) => target.start(env, signal),
    databaseUrl: target.databaseUrl,
    connections: shape.connections,
    durationS: shape.durationS,
    signal,
    log: (message) => log(`${scenario.name}: ${message}`),
  });
  signal.throwIfAborted();
  for (const line of summary.lines) console.log(line);
  const { connections, durationS, scale } = shape;
  const file = await writeJson(scenario.name, { scenario: scenario.name, connections, durationS, scale, ...summary.fields });
  log(`wrote ${file}`);
}

/**
 * A database of our own, dropped at the end, and the server started on it once per
 * variant; with `workers`, as that many processes (one count), or once per count.
 */
async function benchTarget(cleanups: Cleanup[], workers: number[] | undefined): Promise<Target> {
  const database = await createBenchDatabase(process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL);
  cleanups.push(async () => {
    await database.drop();
    log(`dropped database ${database.name}`);
  });
  benchDatabaseName = database.name;
  log(`created database ${database.name}`);
  // 48 characters, fresh per run: tokens from one run are worthless afterwards.
  const jwtSecret = randomBytes(36).toString('base64url');
  const redisUrl = process.env.REDIS_URL;
  const redis = redisUrl ? benchRedisPrefix(redisUrl, database.name) : undefined;
  if (redis) {
    cleanups.push(async () => log(`deleted ${await redis.drop()} Redis keys under ${redis.prefix}`));
    log(`servers use Redis ${redisUrl} under ${redis.prefix}`);
  }
  const processes = (count: number | undefined): Record<string, string> => (count === undefined ? {} : { WEB_CONCURRENCY: String(count) });
  const start = (env: Record<string, string>, signal: AbortSignal, entry?: string) =>
    startServer({ databaseUrl: database.url, jwtSecret, env: { ...(redis && { REDIS_KEY_PREFIX: redis.prefix }), ...env }, signal, entry });
  /** A server exporting its spans to a sink of its own; what the sink took is printed when it stops. */
  const startTraced = async (env: Record<string, string>, signal: AbortSignal) => {
    const sink = await startOtlpSink();
    const server = await start({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint }, signal).catch(async (error: unknown) => {
      await sink.close();
      throw error;
    });
    return {
      ...server,
      async stop() {
        await server.stop();
        const taken = await sink.close();
        log(`traced server exported ${taken.spans} spans in ${taken.exports} requests (${(taken.bytes / 1024 / 1024).toFixed(1)} MiB of OTLP JSON)`);
      },
    };
  };
  const [firstCount] = workers ?? [];
  return {
    databaseUrl: database.url,
    jwtSecret,
    variants(scenario) {
      const all = scenario.variants ?? DEFAULT_VARIANTS;
      if (workers && workers.length > 1) {
        const { label, env } = all.find((v) => !v.floor && !v.closedLoop) ?? all[0]!;
        return workers.map((count) => ({
          label: `${label}-${count}w`,
          workers: count,
          start: (signal: AbortSignal) => start({ ...env, ...processes(count) }, signal),
        }));
      }
      return all.map(({ label, env, closedLoop, floor, traced }) => ({
        label,
        closedLoop,
        floor,
        // A floor is another program: one process whatever --workers says.
        start: (signal) =>
          traced ? startTraced({ ...env, ...processes(firstCount) }, signal) : start(floor ? env : { ...env, ...processes(firstCount) }, signal, floor),
      }));
    },
    start: (env, signal) => start({ ...processes(firstCount), ...env }, signal),
  };
}

/** Servers somebody else runs: the data set goes into their database, tokens are signed with their secret. */
function externalTarget(options: Options): Target {
  const databaseUrl = process.env.DATABASE_URL;
  const jwtSecret = process.env.JWT_SECRET;
  if (!databaseUrl || !jwtSecret) {
    throw new UsageError('--url needs DATABASE_URL (that server\'s database) and JWT_SECRET (its secret) in the environment');
  }
  const running = (url: string) => async (): Promise<StartedServer> => ({ url, pid: undefined, stop: async () => {} });
  const variants = [
    { label: 'url', start: running(options.url!) },
    ...(options.naiveUrl ? [{ label: 'naive', start: running(options.naiveUrl) }] : []),
  ];
  return {
    databaseUrl,
    jwtSecret,
    // A scenario of one variant (e.g. availability-storm) measures only the first server;
    // variants that differ only in the load (closed-loop after rate-limited) all use --url.
    variants: (scenario) =>
      scenario.variants?.some((v) => v.closedLoop)
        ? scenario.variants.map(({ label, closedLoop }) => ({ label, closedLoop, start: running(options.url!) }))
        : variants.slice(0, scenario.variants?.length ?? variants.length),
    start: async (env) => {
      if (Object.keys(env).length > 0) log(`--url: the running server is used as it is, not with ${JSON.stringify(env)}`);
      return running(options.url!)();
    },
  };
}

/** Exact row counts of the non-empty tables, to show what the numbers were measured on. */
async function rowCounts(db: Database): Promise<string> {
  const tables = (await db.execute(
    sql`select table_name as name from information_schema.tables
        where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  )) as unknown as { name: string }[];
  const counts = await Promise.all(
    tables.map(async ({ name }) => ({ name, rows: await db.$count(sql`${sql.identifier(name)}`) })),
  );
  return counts
    .filter((c) => c.rows > 0)
    .map((c) => `${c.name} ${c.rows}`)
    .join(', ');
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgsOrExplain({
    args: argv,
    allowPositionals: true,
    options: {
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rate: { type: 'string' },
      scale: { type: 'string' },
      url: { type: 'string' },
      'naive-url': { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) throw new UsageError('', 0);
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new UsageError('name one scenario, or all');
  const selected = name === 'all' ? scenarios : scenarios.filter((s) => s.name === name);
  if (selected.length === 0) throw new UsageError(`unknown scenario "${name}"`);
  if (values['naive-url'] && !values.url) throw new UsageError('--naive-url needs --url');
  const workers = values.workers?.split(',').map((count) => number('workers', count.trim(), 1, { integer: true, min: 1 }));
  if (workers && values.url) throw new UsageError('--workers sets how the bench starts its servers; a server given with --url runs as it was started');
  if (workers?.some((count) => count > 1) && !process.env.REDIS_URL) {
    throw new UsageError('--workers above 1 needs REDIS_URL: the server refuses several processes without Redis (their pub/sub goes through it)');
  }
  return {
    scenarios: selected,
    connections:
      values.connections === undefined ? undefined : number('connections', values.connections, 0, { integer: true, min: 1 }),
    durationS: number('duration', values.duration, 20, { integer: true, min: 1 }),
    warmupS: number('warmup', values.warmup, 3, { integer: true, min: 0 }),
    rate: values.rate === undefined ? undefined : number('rate', values.rate, 0, { integer: true, min: 1 }),
    scale: number('scale', values.scale, 1, { integer: false, min: 0.1 }),
    url: values.url,
    naiveUrl: values['naive-url'],
    workers,
  };
}

function number(name: string, raw: string | undefined, fallback: number, rule: { integer: boolean; min: number }): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < rule.min || (rule.integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${rule.integer ? 'an integer' : 'a number'} of at least ${rule.min}, got "${raw}"`);
  }
  return value;
}

function parseArgsOrExplain<T extends ParseArgsConfig>(config: T) {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

function log(message: string): void {
  process.stderr.write(`· ${message}\n`);
}

// Entry point: every resource is registered in `cleanups` as it is created and released
// in reverse order however the run ends: success, error, or Ctrl-C.
const controller = new AbortController();
let firstSignalAt: number | undefined;
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      log(`${name}: stopping the run and cleaning up (press Ctrl-C again to exit at once)`);
      controller.abort(new Error(`interrupted by ${name}`));
    } else if (Date.now() - firstSignalAt > SIGNAL_ECHO_MS) {
      log(`exiting without cleaning up${benchDatabaseName ? `; drop database ${benchDatabaseName} by hand` : ''}`);
      process.exit(130);
    }
  });
}

const cleanups: Cleanup[] = [];
try {
  await main(parseOptions(process.argv.slice(2)), controller.signal, cleanups);
} catch (error) {
  if (error instanceof UsageError) {
    const out = error.exitCode === 0 ? process.stdout : process.stderr;
    out.write(`${error.message ? `${error.message}\n\n` : ''}${usage}\n`);
    process.exitCode = error.exitCode;
  } else if (controller.signal.aborted) {
    process.exitCode = 130;
  } else {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
} finally {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      process.stderr.write(`cleanup failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}
// A stray socket or timer must not keep a finished run alive.
process.exit(process.exitCode ?? 0);
