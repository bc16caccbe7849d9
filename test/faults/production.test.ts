import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures } from '../support/fixtures.js';
import { createDatabase, realServers } from '../support/app.js';
import { graphql } from '../support/client.js';
import { sleep, until } from './harness.js';
import { dashboard, HOLD, post, tryConnect } from './in-flight.js';
import { processStorage, type ProcessStorage } from './storage.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The image's final stage, read from the Dockerfile itself: what it copies (from the build
 * stage, or from the context) and the command it runs, so this test lays out exactly that.
 */
function finalStage(): { copies: { fromBuild: boolean; source: string; target: string }[]; command: string[] } {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const copies = [...stage.matchAll(/^COPY\s+(--from=\S+\s+)?(.+?)\s*$/gm)].flatMap((m) => {
    const paths = m[2]!.split(/\s+/);
    const target = paths.pop()!;
    // Several sources go into the target folder, as COPY puts them.
    return paths.map((source) => ({ fromBuild: Boolean(m[1]), source, target: paths.length > 1 && !target.endsWith('/') ? `${target}/` : target }));
  });
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(stage);
  if (!cmd) throw new Error('the Dockerfile has no CMD in exec form');
  return { copies, command: JSON.parse(cmd[1]!) as string[] };
}

/**
 * What the image's final stage holds, in a fresh folder: the compiled server (built here
 * as the build stage builds it), the files it copies, and `npm ci --omit=dev`.
 */
async function layOutImage(): Promise<{ dir: string; command: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'nightgraph-image-'));
  const build = mkdtempSync(join(tmpdir(), 'nightgraph-build-'));
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(build, 'dist')], { cwd: root });
  const { copies, command } = finalStage();
  for (const { fromBuild, source, target } of copies) {
    const from = fromBuild ? join(build, source.replace(/^\/app\//, '')) : join(root, source);
    const to = join(dir, target.endsWith('/') ? join(target, source.split('/').pop()!) : target);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true });
  }
  rmSync(build, { recursive: true, force: true });
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: { ...process.env, NODE_ENV: 'production' } });
  return { dir, command };
}

const PRODUCTION = { NODE_ENV: 'production', SHUTDOWN_TIMEOUT_SECONDS: '10', SINGLE_INSTANCE: 'true' };

describe.skipIf(!realServers)("the image's command, run as the image runs it (skipped embedded: production runs on PostgreSQL and Redis)", () => {
  let image: { dir: string; command: string[] };
  const storages: ProcessStorage[] = [];
  const launch = () => ({ command: image.command[0] === 'node' ? process.execPath : image.command[0]!, args: image.command.slice(1), cwd: image.dir });

  beforeAll(async () => {
    image = await layOutImage();
  }, 300_000);
  afterAll(async () => {
    await Promise.all(storages.map((s) => s.remove()));
    if (image) rmSync(image.dir, { recursive: true, force: true });
  });

  async function storage() {
    const fresh = await processStorage();
    storages.push(fresh);
    return fresh;
  }

  it('holds the compiled server and production dependencies only', () => {
    expect(existsSync(join(image.dir, 'dist/main.js'))).toBe(true);
    expect(existsSync(join(image.dir, 'src/main.ts'))).toBe(false);
    for (const devOnly of ['tsx', 'typescript', 'vitest', '@graphql-codegen/cli']) expect(existsSync(join(image.dir, 'node_modules', devOnly)), devOnly).toBe(false);
    expect(image.command).toEqual(['node', '--max-semi-space-size=32', 'dist/main.js']);
  });

  it('starts on an empty and on a migrated database, answers, and drains on SIGTERM to itself: the request in flight answered, the subscription closed with 1001, exit 0', async () => {
    const db = await storage();
    const { nightId, tableId } = await db.use(async (handle) => {
      const { nightId, tableIds } = await fixtures(handle.db).nightWithTables(1);
      return { nightId, tableId: tableIds[0]! };
    });
    // Start-up on a database nothing has migrated yet (the server applies every migration) …
    const empty = await createDatabase(process.env.DATABASE_URL!);
    let startedAt = Date.now();
    const first = await db.start({ ...PRODUCTION, DATABASE_URL: empty.url }, launch());
    const emptyMs = Date.now() - startedAt;
    await first.stop();
    await empty.drop();
    // … and on a migrated one: the server that is then told to stop.
    startedAt = Date.now();
    const server = await db.start(PRODUCTION, launch());
    const migratedMs = Date.now() - startedAt;
    console.info(`production entry ready: ${emptyMs} ms on an empty database (migrations applied), ${migratedMs} ms on a migrated one`);

    const answer = await graphql(server.url, `query($id: ID!) { night(id: $id) { id availability { freeTables { id } } } }`, { variables: { id: nightId } });
    expect(answer.errors).toBeUndefined();
    expect(answer.data.night.availability.freeTables).toEqual([{ id: tableId }]);

    const live = dashboard(server.url, nightId);
    await until('the dashboard to get its first snapshot', () => live.results.length === 1);
    const guest = await db.token('image-guest');
    // Every round trip to PostgreSQL 100 ms slower: the hold is in flight for about a second.
    db.proxy!.delay(50);
    const hold = post(server.url, HOLD, { input: { nightId, tableId, partySize: 2, idempotencyKey: 'image-hold' } }, guest);
    await hold.sent;
    await sleep(200);
    server.signal('SIGTERM');
    await until('new connections to be refused', async () => (await tryConnect(Number(new URL(server.base).port))) === 'ECONNREFUSED');
    const answered = await hold.response;
    expect(answered.status).toBe(200);
    expect(answered.body.data?.holdTable?.status).toBe('HELD');
    const exit = await server.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(live.closeCode()).toBe(1001);
    expect(server.stdout()).toMatch(/shutting down/);
    live.dispose();
  }, 120_000);

  it('refuses to start with MIGRATE_ON_START=false on a database behind it, and starts once `node dist/cli/migrate.js` ran', async () => {
    const db = await storage();
    // A database nothing has migrated yet.
    const empty = await createDatabase(process.env.DATABASE_URL!);
    try {
      const env = { ...PRODUCTION, DATABASE_URL: empty.url, MIGRATE_ON_START: 'false' };
      await expect(db.start(env, launch())).rejects.toThrow(/migration\(s\) behind this server: run `npm run migrate`/);
      // The one-shot step needs only the database: no JWT secret, no Redis.
      const step = { PATH: process.env.PATH, NODE_ENV: 'production', LOG_LEVEL: 'info', DATABASE_URL: empty.url };
      const migrated = await run(process.execPath, ['dist/cli/migrate.js'], { cwd: image.dir, env: step });
      expect(migrated.stdout).toMatch(/migrations applied/);
      const again = await run(process.execPath, ['dist/cli/migrate.js'], { cwd: image.dir, env: step });
      expect(again.stdout).toMatch(/the database is up to date/);
      const server = await db.start(env, launch());
      expect((await fetch(`${server.base}/readyz`)).status).toBe(200);
      await server.stop();
    } finally {
      await empty.drop();
    }
  }, 120_000);
});

describe.skipIf(!realServers)('`npm start`, the development command (skipped embedded: the drain is shown against PostgreSQL through a slowed proxy)', () => {
  let db: ProcessStorage;
  beforeAll(async () => {
    db = await processStorage();
  });
  afterAll(() => db?.remove());

  it('drains when SIGTERM reaches the npm process, as a container runtime would send it to PID 1', async () => {
    const { nightId, tableId } = await db.use(async (handle) => {
      const { nightId, tableIds } = await fixtures(handle.db).nightWithTables(1);
      return { nightId, tableId: tableIds[0]! };
    });
    const server = await db.start({ SHUTDOWN_TIMEOUT_SECONDS: '10' }, { command: 'npm', args: ['start'], cwd: root });
    const live = dashboard(server.url, nightId);
    await until('the dashboard to get its first snapshot', () => live.results.length === 1);
    db.proxy!.delay(50);
    const hold = post(server.url, HOLD, { input: { nightId, tableId, partySize: 2, idempotencyKey: 'npm-hold' } }, await db.token('npm-guest'));
    await hold.sent;
    await sleep(200);
    // To npm, not to node: npm passes it on to the server it runs (the script execs node).
    server.signal('SIGTERM');
    const answered = await hold.response;
    expect(answered.status).toBe(200);
    expect(answered.body.data?.holdTable?.status).toBe('HELD');
    await until('the subscription to be closed', () => live.closeCode() !== undefined);
    expect(live.closeCode()).toBe(1001);
    await until('the server to stop listening', async () => (await tryConnect(Number(new URL(server.base).port))) === 'ECONNREFUSED', 15_000);
    await until('the server to say it stopped', () => /"msg":"stopped"/.test(server.stdout()), 15_000);
    expect(server.stdout()).toMatch(/shutting down/);
    live.dispose();
  }, 120_000);
});
