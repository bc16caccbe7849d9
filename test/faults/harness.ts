import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/platform/logger.js';
import { createApp, type RunningApp } from '../../src/server/app.js';
import { createDatabase, deleteKeys } from '../support/app.js';

/** `redis-server` on this machine, for tests that run a Redis of their own; undefined if none. */
export const redisServerBinary = (() => {
  try {
    return execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` and says how long it took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Log lines an app wrote, parsed. */
export interface LogLines {
  lines: { level: number; msg: string; [key: string]: unknown }[];
  /** Whether a line's message contains `text`. */
  has(text: string): boolean;
}

export function captureLogs(): { logger: ReturnType<typeof createLogger>; logs: LogLines } {
  const lines: LogLines['lines'] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return {
    logger: createLogger('info', destination),
    logs: { lines, has: (text) => lines.some((line) => line.msg.includes(text)) },
  };
}

/** A fresh PostgreSQL database (migrated), a direct handle on it for fixtures, and its removal. */
export async function freshDatabase(): Promise<{ url: string; direct: DatabaseHandle; drop(): Promise<void> }> {
  const database = await createDatabase(process.env.DATABASE_URL!);
  const direct = await openDatabase({ kind: 'postgres', url: database.url, poolMax: 4, statementTimeoutMs: 10_000, connectTimeoutS: 5 });
  await migrate(direct);
  return {
    url: database.url,
    direct,
    async drop() {
      await direct.close();
      await database.drop();
    },
  };
}

export interface FaultApp extends RunningApp {
  config: Config;
  /** `http://127.0.0.1:<port>` */
  base: string;
  logs: LogLines;
  token(subject: string, roles?: ('guest' | 'host' | 'manager' | 'admin')[], clubIds?: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** An app in this process, as `npm start` builds it, with `env` on top of test defaults and its log lines kept. */
export async function startFaultApp(env: Record<string, string>): Promise<FaultApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nightgraph-faults-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(32).toString('hex'),
    SEED_DEMO_DATA: 'false',
    RATE_LIMIT_ENABLED: 'false',
    WISHLIST_SYNC_ENABLED: 'false',
    OUTBOX_WORKERS: '0',
    REDIS_KEY_PREFIX: `nightgraph-test:${randomBytes(6).toString('hex')}:`,
    ...env,
  });
  if (config.database.kind === 'pglite') config.database = { kind: 'pglite', dataDir: undefined };
  const { logger, logs } = captureLogs();
  const app = createApp(config, { logger });
  const running = await app.start();
  return {
    ...running,
    config,
    base: `http://127.0.0.1:${running.port}`,
    logs,
    token: (subject, roles = ['guest'], clubIds = []) => running.tokens.sign({ subject, roles, clubIds }),
    async stop() {
      try {
        await app.stop();
        // The shared Redis keeps nothing of the test's (a private one the test started goes away whole).
        if (config.redis && config.redis.url === process.env.REDIS_URL) await deleteKeys(config.redis.url, config.redis.keyPrefix);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** A redis-server of the test's own on a free loopback port: no persistence, gone on `stop`. */
export async function startPrivateRedis(): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(redisServerBinary!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await until('the private redis-server to answer', async () => {
    try {
      if (probe.status !== 'ready') await probe.connect().catch(() => {});
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    }
  });
  probe.disconnect();
  return {
    url,
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
