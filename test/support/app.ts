import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { loadConfig, type Config } from '../../src/config.js';
import type { Principal } from '../../src/platform/auth.js';
import { createApp, type RunningApp } from '../../src/server/app.js';

/** Real PostgreSQL and Redis when the environment names them; PGlite and memory otherwise. */
export const realServers = Boolean(process.env.DATABASE_URL);
export const realRedis = Boolean(process.env.REDIS_URL);

export interface TestApp extends RunningApp {
  config: Config;
  token(principal: Partial<Principal> & { subject: string }): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a real app through the same factory as `npm start`, on a port of its own, with
 * a database of its own: a fresh PostgreSQL database (dropped on stop) when DATABASE_URL
 * is set, an in-memory PGlite otherwise; Redis keys under a prefix of its own (deleted on stop).
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nightgraph-test-'));
  const database = realServers ? await createDatabase(process.env.DATABASE_URL!) : undefined;
  const redisPrefix = `nightgraph-test:${randomBytes(6).toString('hex')}:`;
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    MEDIA_DIR: join(dataDir, 'media'),
    JWT_SECRET: randomBytes(32).toString('hex'),
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'silent',
    REDIS_KEY_PREFIX: redisPrefix,
    // Tests send hundreds of requests from one address; the rate-limit tests turn it on.
    RATE_LIMIT_ENABLED: 'false',
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...env,
  });
  if (config.database.kind === 'pglite') config.database = { kind: 'pglite', dataDir: undefined };
  const app = createApp(config);
  const running = await app.start();
  return {
    ...running,
    config,
    token: ({ subject, roles = ['guest'], clubIds = [] }) => running.tokens.sign({ subject, roles, clubIds }),
    async stop() {
      await app.stop();
      await database?.drop();
      // The prefix the app ran with: the test's own unless it gave one (instances sharing keys).
      if (config.redis) await deleteKeys(config.redis.url, config.redis.keyPrefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh, empty PostgreSQL database next to the one `adminUrl` names; `drop` removes it. */
export async function createDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `nightgraph_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const again = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await again.unsafe(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}

/** Deletes every Redis key under `prefix` (a test's own). */
export async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
