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

  it('loads demo data by default except in production, where it must be asked for', () => {
    expect(loadConfig({}).seedDemoData).toBe(true);
    const production = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) };
    expect(loadConfig(production).seedDemoData).toBe(false);
    expect(loadConfig({ ...production, SEED_DEMO_DATA: 'true' }).seedDemoData).toBe(true);
  });

  it('refuses PostgreSQL without Redis in production, saying why, unless it is the only instance', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), DATABASE_URL: 'postgres://db/x' };
    expect(() => loadConfig(production)).toThrow(/without REDIS_URL.*would not see each other's changes.*SINGLE_INSTANCE=true/);
    expect(loadConfig({ ...production, SINGLE_INSTANCE: 'true' }).redis).toBeUndefined();
    expect(loadConfig({ ...production, REDIS_URL: 'redis://r:6379' }).redis).toBeDefined();
    // Outside production (and embedded) nothing is refused.
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/x' })).not.toThrow();
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', JWT_SECRET: 'short' })).toThrow(/PORT.*JWT_SECRET|JWT_SECRET.*PORT/);
  });
});
