import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
/** Server log lines shown per run; under load a failing server would otherwise flood the output. */
const MAX_FORWARDED_LINES = 20;

export interface ServerOptions {
  databaseUrl: string;
  jwtSecret: string;
  /** Added to the environment last, e.g. LOADER_BATCHING=false or RESPONSE_CACHE=false. */
  env: Record<string, string>;
  /** What to run instead of the server: a floor (bench/floors/*), answering /readyz and /graphql on PORT. */
  entry?: string;
  signal: AbortSignal;
}

export interface RunningServer {
  /** The /graphql endpoint. */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the server the way `npm start` does and resolves once /readyz answers 200. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  // BENCH_NODE_FLAGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": flags NODE_OPTIONS may not carry.
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, ['--max-semi-space-size=32', ...flags, '--import', 'tsx', options.entry ?? 'src/main.ts'], {
    cwd: repoRoot,
    // Its own process group: Ctrl-C reaches only the bench, which then stops the server in order.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      JWT_SECRET: options.jwtSecret,
      DATABASE_URL: options.databaseUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
      SEED_DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      // The load comes from one address at rates no client would be allowed.
      RATE_LIMIT_ENABLED: 'false',
      // One server at a time; with REDIS_URL in the environment it uses Redis all the same.
      SINGLE_INSTANCE: 'true',
      ...options.env,
    },
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)),
  );
  forwardOutput(child.stdout, child.stderr);
  // The last resort when the bench exits without stopping it (a second Ctrl-C): a detached
  // server would otherwise outlive the bench.
  const killOnExit = () => killGroup(child.pid);
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // The server drains and closes its pool on SIGTERM.
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS, false)]);
    if (!stopped) killGroup(child.pid);
  };

  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(`${base}/readyz`, exited, options.signal);
    const workers = Number(options.env.WEB_CONCURRENCY ?? 1);
    if (workers > 1) await waitForWorkers(base, workers, exited, options.signal);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `${base}/graphql`, pid: child.pid!, stop };
}

async function waitUntilReady(readyUrl: string, exited: Promise<string>, signal: AbortSignal): Promise<void> {
  let exitedWith: string | undefined;
  void exited.then((how) => (exitedWith = how));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    if (exitedWith) throw new Error(`the server exited (${exitedWith}) before it was ready`);
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  throw new Error(`the server was not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

/**
 * Until every one of `workers` processes listens. The load's connections are opened once
 * and kept, and the primary hands each to a worker that is listening then: opened while
 * only the first was up, they would all stay on it.
 */
async function waitForWorkers(base: string, workers: number, exited: Promise<string>, signal: AbortSignal): Promise<void> {
  let exitedWith: string | undefined;
  void exited.then((how) => (exitedWith = how));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    if (exitedWith) throw new Error(`the server exited (${exitedWith}) before its ${workers} workers listened`);
    try {
      const metrics = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3_000) })).text();
      if (metrics.split('\n').includes(`nightgraph_cluster_workers ${workers}`)) return;
    } catch {
      // A scrape handed to a worker as it started; try again.
    }
    await sleep(200);
  }
  throw new Error(`the server's ${workers} workers were not all listening within ${READY_TIMEOUT_MS / 1000} s`);
}

function forwardOutput(...streams: NodeJS.ReadableStream[]): void {
  let forwarded = 0;
  let suppressed = 0;
  for (const stream of streams) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter((l) => l.trim() !== '')) {
        if (forwarded < MAX_FORWARDED_LINES) {
          forwarded += 1;
          process.stderr.write(`  [server] ${line}\n`);
        } else if ((suppressed += 1) === 1) {
          process.stderr.write(`  [server] (further log lines suppressed)\n`);
        }
      }
    });
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A port nobody listens on right now; the server binds it a moment later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
