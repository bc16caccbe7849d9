import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/platform/logger.js';
import { createApp, type RunningApp } from '../../src/server/app.js';
import { createDatabase, deleteKeys, realServers } from '../support/app.js';

/**
 * Where apps of one test keep their state across restarts: a fresh PostgreSQL database
 * when DATABASE_URL is set, else an embedded PGlite directory on disk (not in memory, so
 * a second app on it sees what the first wrote); and a Redis key prefix of their own.
 */
export interface Storage {
  env: Record<string, string>;
  remove(): Promise<void>;
}

export async function createStorage(): Promise<Storage> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nightgraph-protocol-'));
  const database = realServers ? await createDatabase(process.env.DATABASE_URL!) : undefined;
  const redisPrefix = `nightgraph-test:${randomBytes(6).toString('hex')}:`;
  return {
    env: {
      DATA_DIR: dataDir,
      // The same secret across restarts: tokens stay valid.
      JWT_SECRET: randomBytes(32).toString('hex'),
      REDIS_KEY_PREFIX: redisPrefix,
      ...(database ? { DATABASE_URL: database.url } : {}),
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    },
    async remove() {
      await database?.drop();
      if (process.env.REDIS_URL) await deleteKeys(process.env.REDIS_URL, redisPrefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface OwnApp extends RunningApp {
  config: Config;
  stop(): Promise<void>;
}

/**
 * An app through `createApp`, like `startTestApp` does, but with a logger of the test's
 * own and on storage (and a port) the test chooses, so it can be restarted.
 */
export async function startOwnApp(storage: Storage, options: { env?: Record<string, string>; logger?: Logger } = {}): Promise<OwnApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_ENABLED: 'false',
    ...storage.env,
    ...options.env,
  });
  const app = createApp(config, { logger: options.logger ?? createLogger('silent') });
  const running = await app.start();
  return { ...running, config, stop: () => app.stop() };
}

/** A logger writing JSON lines into `lines`, as the server's would write them to stdout. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { logger, lines };
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

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
