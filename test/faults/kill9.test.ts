import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownTokenService } from '../../src/platform/tokens.js';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { deleteKeys, realServers } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { freshDatabase, until } from './harness.js';

const CONFIRM = 'mutation($id: ID!) { confirmBooking(id: $id) { id status } }';
const DEPOSIT = 'mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { id amount { amountMinor } session { id } } }';

type Operation =
  | { kind: 'confirm'; bookingId: string; token: string }
  | { kind: 'deposit'; sessionId: string; key: string; amountMinor: number };
/** `lost`: no answer — in flight when the process died, or sent after (`unsent`). */
type Outcome = { operation: Operation; result: 'ok' | 'error' | 'lost'; id?: string; unsent?: boolean };

const rowsOf = <T>(result: unknown) => [...(result as T[])];

// A server process killed with SIGKILL mid-stream, on a PostgreSQL database the test reads
// afterwards. PGlite lives inside the killed process.
describe.skipIf(!realServers)('kill -9 during confirms and deposits (needs real PostgreSQL: PGlite dies with the process)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const servers: ServerProcess[] = [];
  const prefix = `nightgraph-test:${randomBytes(6).toString('hex')}:`;
  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await database?.drop();
    if (process.env.REDIS_URL) await deleteKeys(process.env.REDIS_URL, prefix);
  });

  it('keeps every mutation that answered success, applies none by half, and applies the rest once when retried', async () => {
    const fx = fixtures(database.direct.db);
    const club = await fx.club({ currency: 'EUR' });
    const tables = await fx.tables(club.id, 60);
    const [night] = await fx.nights(club.id, 1);
    const host = await fx.user('kill-host');
    const secret = randomBytes(32).toString('hex');
    const tokens = ownTokenService(secret);
    const hostToken = await tokens.sign({ subject: 'kill-host', roles: ['host'], clubIds: [club.id] });

    const operations: Operation[] = [];
    for (let i = 0; i < 50; i += 1) {
      const guest = await fx.user(`kill-guest-${i}`);
      const booking = await fx.booking({
        nightId: night!.id,
        tableId: tables[i]!.id,
        userId: guest.id,
        status: 'held',
        holdExpiresAt: new Date(Date.now() + 3_600_000),
      });
      operations.push({ kind: 'confirm', bookingId: booking.id, token: await tokens.sign({ subject: guest.subject, roles: ['guest'], clubIds: [] }) });
    }
    const sessions = await Promise.all(
      tables.slice(50).map((table) => fx.tableSession({ nightId: night!.id, tableId: table.id, openedBy: host.id })),
    );
    for (let i = 0; i < 250; i += 1) {
      operations.push({ kind: 'deposit', sessionId: sessions[i % sessions.length]!.id, key: `kill-${i}`, amountMinor: 1_000 + i });
    }
    // Confirms and deposits interleaved, as at the door.
    operations.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'confirm' ? -1 : 1));
    const stream = operations.map((_, i) => operations[(i * 7) % operations.length]!);

    const env = {
      DATABASE_URL: database.url,
      JWT_SECRET: secret,
      REDIS_KEY_PREFIX: prefix,
      WISHLIST_SYNC_ENABLED: 'false',
      DB_POOL_MAX: '10',
    };
    const send = async (through: ServerProcess, operation: Operation): Promise<Outcome> => {
      try {
        const response =
          operation.kind === 'confirm'
            ? await graphql(through.url, CONFIRM, { token: operation.token, variables: { id: operation.bookingId } })
            : await graphql(through.url, DEPOSIT, {
                token: hostToken,
                variables: { input: { sessionId: operation.sessionId, amountMinor: operation.amountMinor, currency: 'EUR', idempotencyKey: operation.key } },
              });
        if (response.errors) return { operation, result: 'error' };
        const id = operation.kind === 'confirm' ? response.data.confirmBooking.id : response.data.recordDeposit.id;
        return { operation, result: 'ok', id };
      } catch {
        return { operation, result: 'lost' };
      }
    };

    const first = await startServerProcess(env);
    servers.push(first);
    const outcomes: Outcome[] = [];
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < stream.length) {
        const operation = stream[next++]!;
        outcomes.push(killed ? { operation, result: 'lost', unsent: true } : await send(first, operation));
      }
    };
    const workers = Promise.all(Array.from({ length: 8 }, worker));
    await until('a third of the stream to be answered', () => outcomes.filter((o) => o.result === 'ok').length >= 100, 20_000);
    first.signal('SIGKILL');
    killed = true;
    // Gone at once, without its shutdown: what it had in flight is cut off mid-way.
    await first.exited;
    await workers;

    const ok = outcomes.filter((o) => o.result === 'ok');
    const lost = outcomes.filter((o) => o.result === 'lost');
    expect(outcomes.filter((o) => o.result === 'error')).toEqual([]);
    expect(ok.length).toBeGreaterThanOrEqual(100);
    // Some were in flight when the process died.
    expect(lost.filter((o) => !o.unsent).length).toBeGreaterThan(0);

    const db = database.direct.db;
    const invariants = async () => {
      const [night_] = rowsOf<{ version: number; confirmed: number }>(
        await db.execute(
          sql`select n.availability_version::int as version,
                     (select count(*)::int from bookings b where b.night_id = n.id and b.status = 'confirmed') as confirmed
                from nights n where n.id = ${night!.id}`,
        ),
      );
      // Each confirm bumps the night's version in its own transaction: never one without the other.
      expect(night_!.version).toBe(night_!.confirmed);
      const deposits = rowsOf<{ id: string; session_id: string; amount_minor: number; idempotency_key: string }>(
        await db.execute(sql`select id, session_id, amount_minor, idempotency_key from deposits`),
      );
      const expected = new Map(operations.flatMap((o) => (o.kind === 'deposit' ? [[o.key, o] as const] : [])));
      // Each deposit whole: on its session, with its amount, once per key.
      expect(new Set(deposits.map((d) => d.idempotency_key)).size).toBe(deposits.length);
      for (const deposit of deposits) {
        const operation = expected.get(deposit.idempotency_key)!;
        expect({ session: deposit.session_id, amount: deposit.amount_minor }).toEqual({ session: operation.sessionId, amount: operation.amountMinor });
      }
      return { confirmed: night_!.confirmed, deposits };
    };

    // Every answered success is there.
    const afterKill = await invariants();
    const confirmedIds = new Set(
      rowsOf<{ id: string }>(await db.execute(sql`select id from bookings where status = 'confirmed'`)).map((r) => r.id),
    );
    const depositIds = new Set(afterKill.deposits.map((d) => d.id));
    for (const outcome of ok) {
      if (outcome.operation.kind === 'confirm') expect(confirmedIds.has(outcome.id!)).toBe(true);
      else expect(depositIds.has(outcome.id!)).toBe(true);
    }

    // Another instance takes the retries: the ones that had committed answer the same, the rest apply once.
    const second = await startServerProcess(env);
    servers.push(second);
    for (const outcome of lost) expect((await send(second, outcome.operation)).result).toBe('ok');
    const afterRetries = await invariants();
    expect(afterRetries.confirmed).toBe(50);
    expect(afterRetries.deposits).toHaveLength(250);
  });
});
