import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { ownTokenService } from '../../src/platform/tokens.js';
import { deleteKeys, realServers } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { freshDatabase } from './harness.js';

/**
 * The database a server process runs on, in the mode of the suite: a fresh PostgreSQL
 * database reached through a TCP proxy (real), or a PGlite directory (embedded). `use`
 * gives the test the database for fixtures and checks — for PGlite only while no server
 * process has it open.
 */
export interface ProcessStorage {
  /** The server's environment: its database, a Redis prefix of its own, the JWT secret. */
  env: Record<string, string>;
  /** Between the server and PostgreSQL; undefined when embedded. */
  proxy: TcpProxy | undefined;
  token(subject: string, roles?: ('guest' | 'host' | 'manager' | 'admin')[], clubIds?: string[]): Promise<string>;
  use<T>(work: (handle: DatabaseHandle) => Promise<T>): Promise<T>;
  /** Starts a server process on it (`launch`: another command than the development entry, see `startServerProcess`). */
  start(env?: Record<string, string>, launch?: Parameters<typeof startServerProcess>[1]): Promise<ServerProcess>;
  remove(): Promise<void>;
}

export async function processStorage(): Promise<ProcessStorage> {
  const secret = randomBytes(32).toString('hex');
  const tokens = ownTokenService(secret);
  const base = {
    JWT_SECRET: secret,
    REDIS_KEY_PREFIX: `nightgraph-test:${randomBytes(6).toString('hex')}:`,
    WISHLIST_SYNC_ENABLED: 'false',
    LOG_LEVEL: 'info',
  };
  const token: ProcessStorage['token'] = (subject, roles = ['guest'], clubIds = []) => tokens.sign({ subject, roles, clubIds });
  const started: ServerProcess[] = [];
  if (realServers) {
    const database = await freshDatabase();
    const target = new URL(process.env.DATABASE_URL!);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const env = { ...base, DATABASE_URL: proxy.url(database.url) };
    return {
      env,
      proxy,
      token,
      use: (work) => work(database.direct),
      async start(extra = {}, launch) {
        const server = await startServerProcess({ ...env, ...extra }, launch);
        started.push(server);
        return server;
      },
      async remove() {
        await Promise.all(started.map((s) => s.stop()));
        await proxy.close();
        await database.drop();
        if (process.env.REDIS_URL) await deleteKeys(process.env.REDIS_URL, base.REDIS_KEY_PREFIX);
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'nightgraph-faults-'));
  const env = { ...base, DATA_DIR: dataDir };
  const config = { kind: 'pglite' as const, dataDir: join(dataDir, 'pglite') };
  await (async () => {
    const handle = await openDatabase(config);
    try {
      await migrate(handle);
    } finally {
      await handle.close();
    }
  })();
  return {
    env,
    proxy: undefined,
    token,
    async use(work) {
      const handle = await openDatabase(config);
      try {
        return await work(handle);
      } finally {
        await handle.close();
      }
    },
    async start(extra = {}, launch) {
      const server = await startServerProcess({ ...env, ...extra }, launch);
      started.push(server);
      return server;
    },
    async remove() {
      await Promise.all(started.map((s) => s.stop()));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
