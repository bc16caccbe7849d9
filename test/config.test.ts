import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('runs embedded with no environment at all', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.database).toEqual({ kind: 'pglite', dataDir: './.data/pglite' });
    expect(config.redis).toBeUndefined();
    expect(config.sqlStatsInExtensions).toBe(true);
    expect(config.loaderBatching).toBe(true);
  });

  it('uses PostgreSQL and Redis when their URLs are set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379', PORT: '8080' });
    expect(config.database).toMatchObject({ kind: 'postgres', url: 'postgres://db/x', poolMax: 10, statementTimeoutMs: 5000 });
    expect(config.redis).toMatchObject({ url: 'redis://r:6379', commandTimeoutMs: 500, keyPrefix: 'nightgraph:' });
    expect(config.port).toBe(8080);
  });

  it('turns SQL stats in responses off in production and demands a JWT secret there', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET is required/);
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) });
    expect(config.sqlStatsInExtensions).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), SQL_STATS_IN_EXTENSIONS: 'true' }).sqlStatsInExtensions).toBe(true);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', JWT_SECRET: 'short' })).toThrow(/PORT.*JWT_SECRET|JWT_SECRET.*PORT/);
  });
});
