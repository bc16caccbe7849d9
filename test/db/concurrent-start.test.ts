import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clubs } from '../../src/db/schema.js';
import { deleteKeys, realRedis, realServers } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { freshDatabaseOnly } from '../support/fresh-database.js';

describe.skipIf(!realServers || !realRedis)('instances starting together on an empty database (needs real PostgreSQL and Redis: several processes)', () => {
  let database: Awaited<ReturnType<typeof freshDatabaseOnly>>;
  const started: ServerProcess[] = [];
  beforeAll(async () => {
    database = await freshDatabaseOnly();
  });
  const prefix = `nightgraph-test:${crypto.randomUUID()}:`;
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await database?.drop();
    if (realRedis) await deleteKeys(process.env.REDIS_URL!, prefix);
  });

  it('brings all four up, applies each migration once and loads the demo at most once', async () => {
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: process.env.REDIS_URL!,
      REDIS_KEY_PREFIX: prefix,
      JWT_SECRET: 'z'.repeat(40),
      SEED_DEMO_DATA: 'true',
      WISHLIST_SYNC_ENABLED: 'false',
    };
    const instances = await Promise.all(Array.from({ length: 4 }, () => startServerProcess(env)));
    started.push(...instances);
    for (const instance of instances) expect((await fetch(`${instance.base}/readyz`)).status).toBe(200);
    const applied = await database.query<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    const files = (await import('node:fs')).readdirSync(new URL('../../drizzle', import.meta.url)).filter((f) => f.endsWith('.sql'));
    expect(applied[0]!.n).toBe(files.length);
    const [demo] = await database.query<{ n: number }>(sql`select count(*)::int as n from ${clubs}`);
    expect(demo!.n).toBe(3);
  }, 120_000);
});
