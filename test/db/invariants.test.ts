import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../src/errors.js';
import {
  agents,
  bookings,
  checkIns,
  deposits,
  guestEntries,
  tableSessions,
  voteSessions,
  votes,
  wishlistItems,
} from '../../src/db/schema.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

// The database itself holds the invariants later features rely on; code turns these
// violations (SQLSTATE 23505 and friends) into API errors instead of checking first.

async function violation(promise: Promise<unknown>): Promise<{ code?: string; constraint?: string }> {
  try {
    await promise;
  } catch (error) {
    let e: any = error;
    while (e && !e.code && e.cause) e = e.cause;
    return { code: e?.code, constraint: e?.constraint_name ?? e?.constraint };
  }
  throw new Error('expected the database to refuse the write');
}

describe('database invariants', () => {
  let app: TestApp;
  let fx: Fixtures;
  let clubId: string;
  let tableId: string;
  let nightId: string;
  let userId: string;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
    const club = await fx.club();
    clubId = club.id;
    tableId = (await fx.tables(club.id, 1))[0]!.id;
    nightId = (await fx.nights(club.id, 1))[0]!.id;
    userId = (await fx.user()).id;
  });
  afterAll(() => app?.stop());

  it('allows one held or confirmed booking per table per night, and any number of ended ones', async () => {
    const live = await fx.booking({ nightId, tableId, userId, status: 'held', holdExpiresAt: new Date(Date.now() + 60_000) });
    const second = await violation(fx.booking({ nightId, tableId, userId, status: 'confirmed' }));
    expect(second).toEqual({ code: '23505', constraint: 'bookings_live_table_key' });
    await fx.booking({ nightId, tableId, userId, status: 'cancelled' });
    await fx.booking({ nightId, tableId, userId, status: 'expired' });
    await app.db.update(bookings).set({ status: 'cancelled' }).where(eq(bookings.id, live.id));
    await fx.booking({ nightId, tableId, userId, status: 'confirmed' });
  });

  it('refuses a booking key reused by the same user, a hold without expiry and an empty party', async () => {
    const other = await fx.club();
    const [t1, t2] = await fx.tables(other.id, 2);
    const [night] = await fx.nights(other.id, 1);
    await fx.booking({ nightId: night!.id, tableId: t1!.id, userId, idempotencyKey: 'same-key' });
    expect((await violation(fx.booking({ nightId: night!.id, tableId: t2!.id, userId, idempotencyKey: 'same-key' }))).constraint).toBe(
      'bookings_user_idempotency_key',
    );
    expect((await violation(fx.booking({ nightId: night!.id, tableId: t2!.id, userId, status: 'held' }))).code).toBe('23514');
    expect((await violation(fx.booking({ nightId: night!.id, tableId: t2!.id, userId, partySize: 0 }))).code).toBe('23514');
  });

  it('allows one open session per table per night', async () => {
    const session = await fx.tableSession({ nightId, tableId, openedBy: userId });
    const again = await violation(fx.tableSession({ nightId, tableId, openedBy: userId }));
    expect(again).toEqual({ code: '23505', constraint: 'table_sessions_open_table_key' });
    await app.db.update(tableSessions).set({ closedAt: new Date(Date.now() + 1000) }).where(eq(tableSessions.id, session.id));
    await fx.tableSession({ nightId, tableId, openedBy: userId });
  });

  it('keeps deposits positive, in an ISO currency code', async () => {
    const other = await fx.club();
    const [table] = await fx.tables(other.id, 1);
    const [night] = await fx.nights(other.id, 1);
    const session = await fx.tableSession({ nightId: night!.id, tableId: table!.id, openedBy: userId });
    const insert = (amountMinor: number, currency: string) =>
      app.db.insert(deposits).values({ sessionId: session.id, amountMinor, currency, recordedBy: userId, idempotencyKey: `${amountMinor}${currency}`, requestHash: 'x' });
    expect((await violation(insert(0, 'EUR'))).code).toBe('23514');
    expect((await violation(insert(-5, 'EUR'))).code).toBe('23514');
    expect((await violation(insert(100, 'eur'))).code).toBe('23514');
    await insert(100, 'EUR');
  });

  it('allows one vote per user per session, only for a song of that session', async () => {
    const songs = await fx.songs(clubId, ['A', 'B', 'Outside']);
    const session = await fx.voteSession(clubId, [songs[0]!.id, songs[1]!.id]);
    await app.db.insert(votes).values({ sessionId: session.id, songId: songs[0]!.id, userId });
    const twice = await violation(app.db.insert(votes).values({ sessionId: session.id, songId: songs[1]!.id, userId }));
    expect(twice).toEqual({ code: '23505', constraint: 'votes_session_user_key' });
    const outside = await violation(app.db.insert(votes).values({ sessionId: session.id, songId: songs[2]!.id, userId: (await fx.user()).id }));
    expect(outside).toEqual({ code: '23503', constraint: 'votes_session_song_fk' });
  });

  it('allows one active vote session per club', async () => {
    const club = await fx.club();
    const [song] = await fx.songs(club.id, ['Only']);
    const first = await fx.voteSession(club.id, [song!.id]);
    const second = await violation(app.db.insert(voteSessions).values({ clubId: club.id }));
    expect(second).toEqual({ code: '23505', constraint: 'vote_sessions_active_club_key' });
    await app.db.update(voteSessions).set({ status: 'ended', endedAt: new Date() }).where(eq(voteSessions.id, first.id));
    await fx.voteSession(club.id, [song!.id]);
  });

  it('allows one check-in per guest entry and per booking', async () => {
    const [entry] = await app.db.insert(guestEntries).values({ nightId, name: 'Ana Lima', token: 'qr-1' }).returning();
    await app.db.insert(checkIns).values({ nightId, guestEntryId: entry!.id, gate: 'north' });
    const again = await violation(app.db.insert(checkIns).values({ nightId, guestEntryId: entry!.id, gate: 'south' }));
    expect(again).toEqual({ code: '23505', constraint: 'check_ins_guest_entry_key' });
    const both = await violation(app.db.insert(checkIns).values({ nightId, gate: 'north' }));
    expect(both.code).toBe('23514');
  });

  it('keeps promoter codes and wishlist external ids unique', async () => {
    const other = await fx.user();
    await app.db.insert(agents).values({ clubId, userId, code: 'K7P2QX9M' });
    const clash = app.db.insert(agents).values({ clubId, userId: other.id, code: 'K7P2QX9M' });
    await expect(clash).rejects.toSatisfy((error: unknown) => isUniqueViolation(error, 'agents_code_key'));

    const [streamer] = await fx.streamers(1);
    await fx.wishlistItems([streamer!.id], 1);
    const duplicate = app.db.insert(wishlistItems).values({ streamerId: streamer!.id, externalId: 'item-0', title: 'again' });
    await expect(duplicate).rejects.toSatisfy((error: unknown) => isUniqueViolation(error, 'wishlist_items_streamer_external_key'));
    const rows = await app.db.select().from(wishlistItems).where(and(eq(wishlistItems.streamerId, streamer!.id)));
    expect(rows).toHaveLength(1);
  });
});
