import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../src/db/schema.js';
import { ErrorCode } from '../../src/errors.js';
import { executeRows } from '../../src/db/any.js';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

/** What hostile or careless clients send in string arguments. */
const NASTY = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR 1=1 --',
  '%_\\',
  'x'.repeat(100_000),
  '😀👩‍👩‍👧 Ünïcödé ﷽ 中文',
  '\u202Eevil\u200B',
  '\u0001\u0007\u001b[31m\t\r\n',
  '\u0000',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '',
  '   ',
  '00000000-0000-0000-0000-000000000000',
  '-1',
  '9'.repeat(40),
];

const documented = new Set<string>(Object.values(ErrorCode).filter((c) => c !== 'INTERNAL_SERVER_ERROR'));

describe('every string argument, fuzzed', () => {
  let app: TestApp;
  let token: string;
  let operations: { name: string; query: string; variables: Record<string, unknown>; fuzz: string[] }[];

  beforeAll(async () => {
    app = await startTestApp({ WISHLIST_SYNC_ENABLED: 'false', OUTBOX_WORKERS: '0', HOLD_SWEEP_INTERVAL_SECONDS: '3600' });
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [table, spare] = await fx.tables(club.id, 2);
    const [night] = await fx.nights(club.id, 1);
    const guest = await fx.user();
    const booking = await fx.booking({ nightId: night!.id, tableId: table!.id, userId: guest.id });
    const session = await fx.tableSession({ nightId: night!.id, tableId: spare!.id, openedBy: guest.id });
    const [streamer] = await fx.streamers(1);
    const songs = await fx.songs(club.id, ['One', 'Two']);
    const vote = await fx.voteSession(club.id, songs.map((s) => s.id));
    token = await app.token({ subject: 'fuzzer', roles: ['admin', 'manager', 'host'], clubIds: [club.id] });
    // The caller's user row exists before the first snapshot: it is created on a token's first use.
    await graphql(app.url, '{ me { id } }', { token });

    const ids = { clubId: club.id, nightId: night!.id, tableId: table!.id, bookingId: booking.id, sessionId: session.id, streamerId: streamer!.id, voteId: vote.id, songId: songs[0]!.id, userId: guest.id };
    operations = [
      { name: 'club', query: `query($s: String!) { club(slug: $s) { id } }`, variables: { s: club.slug }, fuzz: ['s'] },
      { name: 'night', query: `query($id: ID!) { night(id: $id) { id } }`, variables: { id: ids.nightId }, fuzz: ['id'] },
      { name: 'booking', query: `query($id: ID!) { booking(id: $id) { id } }`, variables: { id: ids.bookingId }, fuzz: ['id'] },
      { name: 'streamers', query: `query($q: String, $a: String) { streamers(search: $q, after: $a) { edges { node { id } } } }`, variables: { q: 'a', a: null }, fuzz: ['q', 'a'] },
      { name: 'clubs', query: `query($a: String) { clubs(after: $a) { edges { node { id } } } }`, variables: { a: null }, fuzz: ['a'] },
      { name: 'voteSession', query: `query($id: ID!) { voteSession(id: $id) { id } }`, variables: { id: ids.voteId }, fuzz: ['id'] },
      { name: 'campaign', query: `query($id: ID!) { campaign(id: $id) { id } }`, variables: { id: ids.clubId }, fuzz: ['id'] },
      {
        name: 'guests and check-ins',
        query: `query($id: ID!, $q: String, $g: String, $a: String) { night(id: $id) { guests(search: $q, after: $a) { edges { node { id } } } checkIns(gate: $g, after: $a) { edges { node { id } } } } }`,
        variables: { id: ids.nightId, q: 'ann', g: 'north', a: null },
        fuzz: ['q', 'g', 'a'],
      },
      { name: 'holdTable', query: `mutation($i: HoldTableInput!) { holdTable(input: $i) { id } }`, variables: { i: { nightId: ids.nightId, tableId: spare!.id, partySize: 2, idempotencyKey: 'k' } }, fuzz: ['i.nightId', 'i.tableId', 'i.idempotencyKey'] },
      { name: 'confirmBooking', query: `mutation($id: ID!) { confirmBooking(id: $id) { id } }`, variables: { id: ids.bookingId }, fuzz: ['id'] },
      { name: 'cancelBooking', query: `mutation($id: ID!) { cancelBooking(id: $id) { id } }`, variables: { id: ids.bookingId }, fuzz: ['id'] },
      { name: 'openTableSession', query: `mutation($i: OpenTableSessionInput!) { openTableSession(input: $i) { id } }`, variables: { i: { nightId: ids.nightId, tableId: table!.id, bookingId: ids.bookingId } }, fuzz: ['i.nightId', 'i.tableId', 'i.bookingId'] },
      { name: 'closeTableSession', query: `mutation($id: ID!) { closeTableSession(id: $id) { id } }`, variables: { id: ids.sessionId }, fuzz: ['id'] },
      { name: 'recordDeposit', query: `mutation($i: RecordDepositInput!) { recordDeposit(input: $i) { id } }`, variables: { i: { sessionId: ids.sessionId, amountMinor: 100, currency: 'EUR', idempotencyKey: 'd' } }, fuzz: ['i.sessionId', 'i.currency', 'i.idempotencyKey'] },
      { name: 'addGuest', query: `mutation($i: AddGuestInput!) { addGuest(input: $i) { id } }`, variables: { i: { nightId: ids.nightId, name: 'Ann', phone: '+49 30 1234567', agentCode: null } }, fuzz: ['i.nightId', 'i.name', 'i.phone', 'i.agentCode'] },
      { name: 'checkIn', query: `mutation($i: CheckInInput!) { checkIn(input: $i) { id } }`, variables: { i: { token: 'abc', gate: 'north' } }, fuzz: ['i.token', 'i.gate'] },
      { name: 'checkInBooking', query: `mutation($i: CheckInBookingInput!) { checkInBooking(input: $i) { id } }`, variables: { i: { bookingId: ids.bookingId, gate: 'north' } }, fuzz: ['i.bookingId', 'i.gate'] },
      { name: 'createAgent', query: `mutation($u: ID!, $c: ID) { createAgent(input: { userId: $u, clubId: $c }) { id } }`, variables: { u: ids.userId, c: ids.clubId }, fuzz: ['u', 'c'] },
      { name: 'createSong', query: `mutation($i: CreateSongInput!) { createSong(input: $i) { id } }`, variables: { i: { clubId: ids.clubId, title: 'T', artist: 'A' } }, fuzz: ['i.clubId', 'i.title', 'i.artist'] },
      { name: 'startVoteSession', query: `mutation($i: StartVoteSessionInput!) { startVoteSession(input: $i) { id } }`, variables: { i: { clubId: ids.clubId, songIds: [ids.songId] } }, fuzz: ['i.clubId', 'i.songIds.0'] },
      { name: 'requestSongUpload', query: `mutation($s: ID!, $t: String!) { requestSongUpload(songId: $s, contentType: $t, bytes: 1000) { url } }`, variables: { s: ids.songId, t: 'audio/mpeg' }, fuzz: ['s', 't'] },
      { name: 'club songs', query: `query($slug: String!, $q: String, $a: String) { club(slug: $slug) { songs(search: $q, after: $a) { edges { node { id audio { url } } } } } }`, variables: { slug: club.slug, q: 'one', a: null }, fuzz: ['q', 'a'] },
      { name: 'endVoteSession', query: `mutation($id: ID!) { endVoteSession(id: $id) { id } }`, variables: { id: ids.voteId }, fuzz: ['id'] },
      { name: 'castVote', query: `mutation($i: CastVoteInput!) { castVote(input: $i) { id } }`, variables: { i: { sessionId: ids.voteId, songId: ids.songId } }, fuzz: ['i.sessionId', 'i.songId'] },
      { name: 'addStreamer', query: `mutation($i: AddStreamerInput!) { addStreamer(input: $i) { id } }`, variables: { i: { platform: 'twitch', handle: 'h', displayName: 'D', wishlistUrl: null } }, fuzz: ['i.platform', 'i.handle', 'i.displayName', 'i.wishlistUrl'] },
      { name: 'trackStreamer', query: `mutation($id: ID!) { trackStreamer(streamerId: $id) { id } }`, variables: { id: ids.streamerId }, fuzz: ['id'] },
      { name: 'untrackStreamer', query: `mutation($id: ID!) { untrackStreamer(streamerId: $id) { id } }`, variables: { id: ids.streamerId }, fuzz: ['id'] },
      { name: 'syncStreamer', query: `mutation($id: ID!) { syncStreamer(id: $id) { id } }`, variables: { id: ids.streamerId }, fuzz: ['id'] },
      { name: 'registerWebhook', query: `mutation($u: String!) { registerWebhook(input: { url: $u }) { secret } }`, variables: { u: 'https://example.test/h' }, fuzz: ['u'] },
      { name: 'deleteWebhook', query: `mutation($id: ID!) { deleteWebhook(id: $id) }`, variables: { id: ids.clubId }, fuzz: ['id'] },
      { name: 'sendCampaign', query: `mutation($i: SendCampaignInput!) { sendCampaign(input: $i) { id } }`, variables: { i: { clubId: ids.clubId, message: 'Hi', idempotencyKey: 'c' } }, fuzz: ['i.clubId', 'i.message', 'i.idempotencyKey'] },
    ];
  });
  afterAll(() => app?.stop());

  /** A digest of every table's rows: equal digests, unchanged database. */
  async function digest(): Promise<Record<string, string>> {
    const names = Object.values(schema).filter((t) => is(t, PgTable)).map((t) => getTableName(t as PgTable));
    const rows = await executeRows<{ name: string; digest: string }>(
      app.db,
      sql.raw(names.map((n) => `select '${n}' as name, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from "${n}" t`).join(' union all ')),
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
  }

  function withValue(variables: Record<string, unknown>, path: string, value: string) {
    const copy = structuredClone(variables);
    const keys = path.split('.');
    let target: any = copy;
    for (const key of keys.slice(0, -1)) target = target[key];
    target[keys.at(-1)!] = value;
    return copy;
  }

  it('answers each with a documented error or a result, and a refused call changes nothing', async () => {
    let calls = 0;
    for (const operation of operations) {
      for (const path of operation.fuzz) {
        for (const value of NASTY) {
          const before = await digest();
          const response = await graphql(app.url, operation.query, { token, variables: withValue(operation.variables, path, value) });
          calls++;
          const where = `${operation.name} ${path}=${JSON.stringify(value.slice(0, 40))}`;
          expect(response.status, where).toBeLessThan(500);
          const errorCodes = (response.errors ?? []).map((e) => e.extensions?.code);
          for (const code of errorCodes) expect(documented.has(code as string), `${where}: ${code} ${response.errors?.[0]?.message}`).toBe(true);
          for (const error of response.errors ?? []) expect(error.message, where).not.toMatch(/postgres|syntax error at|relation "|constraint/i);
          if (errorCodes.length > 0) expect(await digest(), where).toEqual(before);
        }
      }
    }
    expect(calls).toBe(operations.reduce((n, o) => n + o.fuzz.length, 0) * NASTY.length);
    // Every table is still there and readable.
    expect(Object.keys(await digest()).length).toBeGreaterThan(20);
  }, 240_000);
});
