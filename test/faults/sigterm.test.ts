import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/client.js';
import { fixtures } from '../support/fixtures.js';
import { realServers } from '../support/app.js';
import { sleep, until } from './harness.js';
import { processStorage, type ProcessStorage } from './storage.js';
import { dashboard, HOLD, post, tryConnect } from './in-flight.js';

async function holdsOf(handle: DatabaseHandle, nightIds: string[]) {
  const rows = (await handle.db.execute(
    sql`select n.id, n.availability_version::int as version, count(b.id)::int as held
          from nights n left join bookings b on b.night_id = n.id and b.status = 'held'
         where n.id in ${nightIds} group by n.id`,
  )) as unknown as { id: string; version: number; held: number }[] | { rows: { id: string; version: number; held: number }[] };
  // postgres.js answers the rows, PGlite an object holding them.
  return Array.isArray(rows) ? [...rows] : rows.rows;
}

describe('SIGTERM', () => {
  let storage: ProcessStorage;
  beforeAll(async () => {
    storage = await processStorage();
  });
  afterAll(() => storage?.remove());

  it('finishes the requests in flight, refuses new connections, closes WebSockets with 1001, and exits 0 within SHUTDOWN_TIMEOUT_SECONDS', async () => {
    const { nightIds, tableIds } = await storage.use(async (handle) => {
      const fx = fixtures(handle.db);
      const club = await fx.club();
      const [table] = await fx.tables(club.id, 1);
      // One night per hold: they run side by side instead of queueing on one night's lock.
      return { nightIds: (await fx.nights(club.id, 8)).map((n) => n.id), tableIds: [table!.id] };
    });
    const server = await storage.start({ SHUTDOWN_TIMEOUT_SECONDS: '10', DB_POOL_MAX: '20' });
    const live = dashboard(server.url, nightIds[0]!);
    await until('the dashboard to get its first snapshot', () => live.results.length === 1);
    const guest = await storage.token('sigterm-guest');
    // On PostgreSQL every round trip takes 100 ms more, so each hold is in flight for about a second.
    storage.proxy?.delay(50);
    let answered = 0;
    const holds = nightIds.map((nightId, i) =>
      post(server.url, HOLD, { input: { nightId, tableId: tableIds[0], partySize: 2, idempotencyKey: `term-${i}` } }, guest),
    );
    const outcomes = Promise.all(
      holds.map(({ response }) =>
        response.then(
          (answer) => {
            answered += 1;
            return { ...answer, at: Date.now() };
          },
          (error: NodeJS.ErrnoException) => ({ status: 0, body: {} as { data?: any; errors?: unknown[] }, at: Date.now(), failed: error.code }),
        ),
      ),
    );
    // Every request written out: in flight when the signal comes.
    await Promise.all(holds.map(({ sent }) => sent));
    await sleep(realServers ? 300 : 0);

    const signalledAt = Date.now();
    server.signal('SIGTERM');
    // (A busy event loop — PGlite computes in it — takes the signal a moment later.)
    await until('new connections to be refused', async () => (await tryConnect(Number(new URL(server.base).port))) === 'ECONNREFUSED');
    // On PostgreSQL, still draining when the listener was already closed.
    if (realServers) expect(answered).toBeLessThan(nightIds.length);

    const answers = await outcomes;
    for (const answer of answers) {
      if (answer.status === 0) {
        // Only a connection the server had not yet taken from the kernel's queue when its
        // listener closed (PGlite keeps the event loop busy): nothing was read from it.
        expect(realServers).toBe(false);
        expect(answer).toMatchObject({ failed: 'ECONNRESET' });
        continue;
      }
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data.holdTable.status).toBe('HELD');
    }
    // Requests were still being answered after the signal.
    expect(answers.filter((a) => a.status === 200 && a.at > signalledAt).length).toBeGreaterThan(0);
    const exit = await server.exited;
    // Exit 0: everything drained within SHUTDOWN_TIMEOUT_SECONDS (past it, the exit is 1).
    expect(exit).toMatchObject({ code: 0, signal: null });
    await until('the dashboard to see the close', () => live.closeCode() !== undefined);
    expect(live.closeCode()).toBe(1001);
    await live.dispose();
    storage.proxy?.delay(0);

    // Every answered hold committed with its version bump, and nothing else did; the
    // instance left no session behind.
    const rows = new Map((await storage.use((handle) => holdsOf(handle, nightIds))).map((r) => [r.id, [r.version, r.held]]));
    expect(nightIds.map((id) => rows.get(id))).toEqual(answers.map((a) => (a.status === 200 ? [1, 1] : [0, 0])));
    if (realServers) {
      await storage.use(async (handle) => {
        await until('its connections to be gone', async () => {
          const [row] = (await handle.db.execute(
            sql`select count(*)::int as open from pg_stat_activity where datname = current_database() and application_name = 'nightgraph' and pid <> pg_backend_pid()`,
          )) as unknown as [{ open: number }];
          // The test's own handle is also 'nightgraph': only it may remain.
          return row.open <= 4;
        });
      });
    }
  });
});

// Slowing PostgreSQL down to outlast the bound needs the proxy in front of it.
describe.skipIf(!realServers)('SIGTERM past the bound (needs real PostgreSQL: the test slows it through a proxy)', () => {
  let storage: ProcessStorage;
  beforeAll(async () => {
    storage = await processStorage();
  });
  afterAll(() => storage?.remove());

  it('exits within SHUTDOWN_TIMEOUT_SECONDS anyway, and the cut-off transaction leaves nothing applied or locked', async () => {
    const { nightId, tableId } = await storage.use(async (handle) => {
      const fx = fixtures(handle.db);
      const club = await fx.club();
      const [table] = await fx.tables(club.id, 1);
      const [night] = await fx.nights(club.id, 1);
      return { nightId: night!.id, tableId: table!.id };
    });
    const server = await storage.start({ SHUTDOWN_TIMEOUT_SECONDS: '1', DB_STATEMENT_TIMEOUT_MS: '30000' });
    const guest = await storage.token('slow-guest');
    // Each round trip takes 800 ms: the hold needs several seconds.
    storage.proxy!.delay(400);
    const hold = post(server.url, HOLD, { input: { nightId, tableId, partySize: 2, idempotencyKey: 'slow' } }, guest).response.then(
      () => 'answered',
      () => 'cut off',
    );
    await sleep(2_000);
    server.signal('SIGTERM');
    const exit = await server.exited;
    // The bound, not the hold, ended it: waiting for the hold would have answered it and exited 0.
    expect(exit.code).toBe(1);
    expect(await hold).toBe('cut off');
    expect(server.stdout()).toContain('Shutdown took longer than SHUTDOWN_TIMEOUT_SECONDS');

    storage.proxy!.delay(0);
    await storage.use(async (handle) => {
      // PostgreSQL rolled the transaction back with its connection: the night is free to lock, untouched.
      await until('the night lock to be released', async () =>
        handle.db.transaction(async (tx) => {
          const locked = await tx.execute(sql`select id from nights where id = ${nightId} for update skip locked`);
          return [...(locked as unknown as unknown[])].length === 1;
        }),
      );
      expect(await holdsOf(handle, [nightId])).toEqual([{ id: nightId, version: 0, held: 0 }]);
    });
  });
});
