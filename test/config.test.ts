import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, settings } from '../src/config.js';

/** The rows of the configuration table in docs/operations.md: variable, default, meaning. */
function documentedSettings(): { variable: string; default: string; meaning: string }[] {
  const operations = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
  const section = operations.split(/^## Configuration$/m)[1]?.split(/^#{1,3} /m)[0];
  if (section === undefined) throw new Error('docs/operations.md has no "## Configuration" section');
  const table = section.split('\n').filter((line) => line.startsWith('|'));
  expect(table.slice(0, 2), 'the table header').toEqual(['| variable | default | meaning |', '| --- | --- | --- |']);
  return table.slice(2).map((row) => {
    const cells = row.slice(1, -1).split('|').map((cell) => cell.trim());
    const variable = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? '')?.[1];
    if (cells.length !== 3 || !row.endsWith('|') || variable === undefined) {
      throw new Error(`docs/operations.md: not a row of one \`VARIABLE\`, its default and its meaning: ${row}`);
    }
    return { variable, default: cells[1]!, meaning: cells[2]! };
  });
}

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
    // An identity provider signs the tokens instead.
    expect(loadConfig({ NODE_ENV: 'production', JWT_OIDC_ISSUER: 'https://id.example/realms/club' }).identityProvider).toMatchObject({
      oidcIssuer: 'https://id.example/realms/club',
      cooldownMs: 30_000,
      cacheMaxAgeMs: 600_000,
    });
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

  it('runs several processes per host only on PostgreSQL and Redis, naming what is missing and why', () => {
    expect(loadConfig({}).webConcurrency).toBe(1);
    expect(() => loadConfig({ WEB_CONCURRENCY: '2' })).toThrow(
      /WEB_CONCURRENCY=2 needs DATABASE_URL and REDIS_URL, and DATABASE_URL and REDIS_URL are not set.*PGlite.*only one process/,
    );
    expect(() => loadConfig({ WEB_CONCURRENCY: '2', DATABASE_URL: 'postgres://db/x' })).toThrow(/REDIS_URL is not set.*in-process pub\/sub/);
    expect(loadConfig({ WEB_CONCURRENCY: '2', DATABASE_URL: 'postgres://db/x', REDIS_URL: 'redis://r:6379' }).webConcurrency).toBe(2);
    // One process is always allowed, embedded included.
    expect(loadConfig({ WEB_CONCURRENCY: '1' }).webConcurrency).toBe(1);
    expect(() => loadConfig({ WEB_CONCURRENCY: '0' })).toThrow(/WEB_CONCURRENCY/);
  });

  it('runs any document unless TRUSTED_DOCUMENTS says otherwise, in production too, and reads the generated manifest', () => {
    const manifest = 'src/__generated__/client/persisted-documents.json';
    expect(loadConfig({}).trustedDocuments).toEqual({ mode: 'off', file: manifest });
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) }).trustedDocuments.mode).toBe('off');
    expect(loadConfig({ TRUSTED_DOCUMENTS: 'enforce', TRUSTED_DOCUMENTS_FILE: '/etc/web.json' }).trustedDocuments).toEqual({ mode: 'enforce', file: '/etc/web.json' });
    expect(() => loadConfig({ TRUSTED_DOCUMENTS: 'strict' })).toThrow(/TRUSTED_DOCUMENTS/);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', JWT_SECRET: 'short' })).toThrow(/PORT.*JWT_SECRET|JWT_SECRET.*PORT/);
  });

  it('is documented in docs/operations.md as declared: every variable, its default and meaning, and no other', () => {
    const rows = documentedSettings();
    const variables = rows.map((r) => r.variable);
    expect(variables.filter((v, i) => variables.indexOf(v) !== i), 'variables with more than one row').toEqual([]);
    const documented = Object.fromEntries(rows.map((r) => [r.variable, { default: r.default, meaning: r.meaning }]));
    const declared = Object.fromEntries(
      Object.entries(settings).map(([variable, s]) => [variable, { default: s.default, meaning: s.meaning }]),
    );
    expect(documented).toEqual(declared);
  });
});
