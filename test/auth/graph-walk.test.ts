import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import {
  buildSchema,
  getNamedType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeRows } from '../../src/db/any.js';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { allows, audiencesOf, readPolicy, type ObjectFacts, type Policy, type ViewerFacts } from '../support/policy.js';
import { telegramLinks } from '../../src/db/schema.js';
import { wavFile } from '../support/audio.js';
import { putFile } from '../support/upload.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const schema: GraphQLSchema = buildSchema(readFileSync(`${ROOT}schema.graphql`, 'utf8'));
const policy: Policy = readPolicy(`${ROOT}docs/api.md`);
const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);
/** The production depth limit: the walk goes as deep as a client may. */
const MAX_DEPTH = 10;
/** Codes a refused or impossible field may carry; anything else (an internal error) fails the walk. */
const REFUSALS = new Set(['FORBIDDEN', 'UNAUTHENTICATED', 'NOT_FOUND', 'CONFLICT', 'BAD_USER_INPUT']);
const HOUR = 3_600_000;

/** Every object type of the schema with its fields, roots and introspection left out. */
function objectFields(): string[] {
  return Object.values(schema.getTypeMap())
    .filter((t): t is GraphQLObjectType => isObjectType(t) && !t.name.startsWith('__') && !ROOT_TYPES.has(t.name))
    .flatMap((t) => Object.keys(t.getFields()).map((f) => `${t.name}.${f}`));
}

/**
 * A selection of every field of `type` and below, each object type expanded again
 * wherever it is reached except under itself (no cycles), to `depth` levels; `first: 2`
 * on every page. Records each field it selects in `reached`.
 */
function selectionOf(type: GraphQLObjectType, ancestors: string[], depth: number, reached: Set<string>): string {
  const parts = ['__typename'];
  for (const field of Object.values(type.getFields())) {
    const named = getNamedType(field.type);
    const args = field.args.some((a) => a.name === 'first') ? '(first: 2)' : '';
    if (isLeafType(named)) {
      parts.push(`${field.name}${args}`);
      reached.add(`${type.name}.${field.name}`);
      continue;
    }
    // Leaves count as a level of their own: an object field here needs room for its leaves below.
    if (!isObjectType(named) || ancestors.includes(named.name) || depth + 2 > MAX_DEPTH) continue;
    parts.push(`${field.name}${args} { ${selectionOf(named, [...ancestors, named.name], depth + 1, reached)} }`);
    reached.add(`${type.name}.${field.name}`);
  }
  return parts.join(' ');
}

interface Operation {
  label: string;
  kind: 'query' | 'mutation' | 'subscription';
  /** The root field with its arguments, e.g. `night(id: "…")`. */
  root: string;
  field: GraphQLField<unknown, unknown>;
}

function documentOf(operation: Operation, reached: Set<string>): { text: string; fields: number } {
  const named = getNamedType(operation.field.type);
  const rootType = operation.kind === 'query' ? 'Query' : operation.kind === 'mutation' ? 'Mutation' : 'Subscription';
  reached.add(`${rootType}.${operation.field.name}`);
  const mine = new Set<string>();
  const body = isObjectType(named) ? ` { ${selectionOf(named, [named.name], 1, mine)} }` : '';
  for (const f of mine) reached.add(f);
  return { text: `${operation.kind} { ${operation.root}${body} }`, fields: (body.match(/[A-Za-z_]+(?=[\s({}]|$)/g) ?? []).length };
}

interface Leak {
  role: string;
  /** Type.field */
  field: string;
  path: string;
  audiences: string;
}

describe('the graph, walked as every kind of viewer', () => {
  let app: TestApp;
  const viewers: { facts: ViewerFacts; token?: string }[] = [];
  let operations: Operation[] = [];
  const facts = new Map<string, ObjectFacts>();

  /** Clubs and owner of an object, from PostgreSQL itself (the test's own oracle, not the server's code). */
  async function factsOf(type: string, value: Record<string, unknown>): Promise<ObjectFacts> {
    const id = (type === 'WebhookRegistration' ? (value.webhook as { id?: string } | null)?.id : value.id) as string | undefined;
    if (id === undefined) throw new Error(`${type} reached without its id`);
    const key = `${type}:${id}`;
    const known = facts.get(key);
    if (known) return known;
    const one = async (query: ReturnType<typeof sql>) => (await executeRows<{ club: string | null; owner: string | null }>(app.db, query))[0];
    let found: { club: string | null; owner: string | null } | undefined;
    let clubs: string[] | undefined;
    let onOffer: boolean | undefined;
    switch (type) {
      case 'Club': found = { club: id, owner: null }; break;
      case 'Table': found = await one(sql`select club_id as club, null as owner from tables where id = ${id}::uuid`); break;
      case 'Night': found = await one(sql`select club_id as club, null as owner from nights where id = ${id}::uuid`); break;
      case 'Booking': found = await one(sql`select n.club_id as club, b.user_id as owner from bookings b join nights n on n.id = b.night_id where b.id = ${id}::uuid`); break;
      case 'TableSession': found = await one(sql`select n.club_id as club, null as owner from table_sessions s join nights n on n.id = s.night_id where s.id = ${id}::uuid`); break;
      case 'Deposit': found = await one(sql`select n.club_id as club, null as owner from deposits d join table_sessions s on s.id = d.session_id join nights n on n.id = s.night_id where d.id = ${id}::uuid`); break;
      case 'GuestEntry': found = await one(sql`select n.club_id as club, a.user_id as owner from guest_entries g join nights n on n.id = g.night_id left join agents a on a.id = g.agent_id where g.id = ${id}::uuid`); break;
      case 'CheckIn': found = await one(sql`select n.club_id as club, null as owner from check_ins c join nights n on n.id = c.night_id where c.id = ${id}::uuid`); break;
      case 'Agent': found = await one(sql`select club_id as club, user_id as owner from agents where id = ${id}::uuid`); break;
      case 'Campaign': found = await one(sql`select club_id as club, null as owner from campaigns where id = ${id}::uuid`); break;
      case 'Webhook':
      case 'WebhookRegistration': found = await one(sql`select null as club, user_id as owner from webhooks where id = ${id}::uuid`); break;
      case 'Vote': found = await one(sql`select s.club_id as club, v.user_id as owner from votes v join vote_sessions s on s.id = v.session_id where v.id = ${id}::uuid`); break;
      case 'VoteSession': found = await one(sql`select club_id as club, null as owner from vote_sessions where id = ${id}::uuid`); break;
      case 'Song': {
        found = await one(sql`select club_id as club, null as owner from songs where id = ${id}::uuid`);
        const offered = await executeRows(app.db, sql`select 1 from vote_session_songs o join vote_sessions s on s.id = o.session_id and s.status = 'active' where o.song_id = ${id}::uuid`);
        onOffer = offered.length > 0;
        break;
      }
      case 'User': {
        const rows = await executeRows<{ club: string }>(
          app.db,
          sql`select n.club_id as club from bookings b join nights n on n.id = b.night_id where b.user_id = ${id}::uuid
              union select club_id from agents where user_id = ${id}::uuid
              union select club_id from club_staff where user_id = ${id}::uuid and removed_at is null`,
        );
        clubs = rows.map((r) => r.club);
        found = { club: null, owner: id };
        break;
      }
      default: found = { club: null, owner: null };
    }
    if (!found) throw new Error(`${type} ${id} is not in the database`);
    const result: ObjectFacts = { clubs: clubs ?? (found.club ? [found.club] : []), owner: found.owner, ...(onOffer !== undefined && { onOffer }) };
    facts.set(key, result);
    return result;
  }

  /** Every field of the answer the viewer may not see, by the policy. */
  async function leaksIn(type: GraphQLOutputType, value: unknown, path: string, viewer: ViewerFacts, found: Leak[]) {
    if (value === null || value === undefined) return;
    const inner = isNonNullType(type) ? type.ofType : type;
    if (isListType(inner)) {
      for (const [i, item] of (value as unknown[]).entries()) await leaksIn(inner.ofType, item, `${path}.${i}`, viewer, found);
      return;
    }
    if (!isObjectType(inner)) return;
    const object = value as Record<string, unknown>;
    const ownRule = audiencesOf(policy, inner.name, '*')?.[0] !== 'as parent';
    const objectFacts = ownRule ? await factsOf(inner.name, object) : undefined;
    for (const [name, child] of Object.entries(object)) {
      if (name === '__typename' || child === null) continue;
      const field = inner.getFields()[name]!;
      const audiences = audiencesOf(policy, inner.name, name)!;
      if (objectFacts && !allows(audiences, viewer, objectFacts)) {
        found.push({ role: viewer.role, field: `${inner.name}.${name}`, path: `${path}.${name}`, audiences: audiences.join(', ') });
        continue;
      }
      await leaksIn(field.type, child, `${path}.${name}`, viewer, found);
    }
  }

  beforeAll(async () => {
    app = await startTestApp({
      OUTBOX_WORKERS: '0',
      QUERY_MAX_TOKENS: '1000000',
      QUERY_MAX_COST: '1000000000',
      QUERY_MAX_ALIASES: '0',
      // A bot, so that linkTelegram answers; nothing is sent to it (no outbox workers).
      TELEGRAM_BOT_TOKEN: '123456:walk-token',
      TELEGRAM_BOT_USERNAME: 'walk_bot',
      TELEGRAM_WEBHOOK_SECRET: 'walk-secret-0123456789',
      TELEGRAM_API_URL: 'http://127.0.0.1:9',
    });
    const fx = fixtures(app.db);
    const call = async (token: string | undefined, query: string, variables: Record<string, unknown> = {}) => {
      const response = await graphql(app.url, query, { token, variables });
      if (response.errors) throw new Error(`${query}: ${JSON.stringify(response.errors)}`);
      return response.data;
    };
    // Two clubs under way tonight, each with a night of tables.
    const clubA = await fx.club({ currency: 'EUR' });
    const clubB = await fx.club({ currency: 'EUR' });
    const [nightA] = await fx.nights(clubA.id, 1, new Date(Date.now() - HOUR));
    const [nightB] = await fx.nights(clubB.id, 1, new Date(Date.now() - HOUR));
    const tablesA = await fx.tables(clubA.id, 3);
    const [tableB] = await fx.tables(clubB.id, 1);

    const adminToken = await app.token({ subject: 'walk-admin', roles: ['admin'] });
    const staff = async (subject: string, clubId: string, role: 'HOST' | 'MANAGER') =>
      call(adminToken, 'mutation($input: AddStaffInput!) { addStaff(input: $input) { role } }', { input: { clubId, subject, role } });
    await staff('walk-host-a', clubA.id, 'HOST');
    await staff('walk-host-b', clubB.id, 'HOST');
    await staff('walk-manager-a', clubA.id, 'MANAGER');
    await staff('walk-former-a', clubA.id, 'MANAGER');
    await call(adminToken, 'mutation($club: ID!, $subject: String!) { removeStaff(clubId: $club, subject: $subject) }', { club: clubA.id, subject: 'walk-former-a' });

    const tokens = {
      guest: await app.token({ subject: 'walk-guest' }),
      otherGuest: await app.token({ subject: 'walk-other-guest' }),
      hostA: await app.token({ subject: 'walk-host-a' }),
      hostB: await app.token({ subject: 'walk-host-b' }),
      manager: await app.token({ subject: 'walk-manager-a' }),
      former: await app.token({ subject: 'walk-former-a' }),
      admin: adminToken,
    };
    const idOf = async (token: string) => ((await call(token, '{ me { id } }')) as { me: { id: string } }).me.id;
    const guestId = await idOf(tokens.guest);
    const otherGuestId = await idOf(tokens.otherGuest);

    // The guest books at both clubs and promotes club A; the other guest books at club A.
    const bookingA = await fx.booking({ nightId: nightA!.id, tableId: tablesA[0]!.id, userId: guestId });
    const otherBookingA = await fx.booking({ nightId: nightA!.id, tableId: tablesA[1]!.id, userId: otherGuestId, status: 'held', holdExpiresAt: new Date(Date.now() + HOUR) });
    const bookingB = await fx.booking({ nightId: nightB!.id, tableId: tableB!.id, userId: guestId, status: 'held', holdExpiresAt: new Date(Date.now() + HOUR) });
    const { createAgent } = (await call(tokens.manager, 'mutation($u: ID!, $c: ID) { createAgent(userId: $u, clubId: $c) { code } }', { u: guestId, c: clubA.id })) as { createAgent: { code: string } };
    const { addGuest } = (await call(tokens.manager, 'mutation($input: AddGuestInput!) { addGuest(input: $input) { token } }', {
      input: { nightId: nightA!.id, name: 'Walk Friend', phone: '+49 170 1234567', agentCode: createAgent.code },
    })) as { addGuest: { token: string } };
    await call(tokens.hostA, 'mutation($input: CheckInInput!) { checkIn(input: $input) { id } }', { input: { token: addGuest.token, gate: 'North' } });
    await call(tokens.hostA, 'mutation($input: CheckInBookingInput!) { checkInBooking(input: $input) { id } }', { input: { bookingId: bookingA.id, gate: 'VIP' } });
    const hostAId = await idOf(tokens.hostA);
    const session = await fx.tableSession({ nightId: nightA!.id, tableId: tablesA[0]!.id, bookingId: bookingA.id, openedBy: hostAId });
    await fx.deposits(session.id, hostAId, [20_000]);
    const songs = await fx.songs(clubA.id, ['Walk One', 'Walk Two']);
    const voteSession = await fx.voteSession(clubA.id, songs.map((s) => s.id));
    // Audio on a song on offer (everyone hears it) and on one that is not (staff only); Club.songs(first: 2) reaches both.
    const [offStage] = await fx.songs(clubA.id, ['Walk Backstage']);
    for (const song of [songs[0]!, offStage!]) {
      const file = wavFile(0.25);
      const { requestSongUpload } = (await call(tokens.manager, 'mutation($s: ID!, $b: Int!) { requestSongUpload(songId: $s, contentType: "audio/wav", bytes: $b) { url } }', {
        s: song.id,
        b: file.length,
      })) as { requestSongUpload: { url: string } };
      const put = await putFile(requestSongUpload.url, file);
      if (put.status !== 201) throw new Error(`walk fixture upload: ${put.status} ${JSON.stringify(put.body)}`);
    }
    await call(tokens.otherGuest, 'mutation($input: CastVoteInput!) { castVote(input: $input) { id } }', { input: { sessionId: voteSession.id, songId: songs[0]!.id } });
    const { sendCampaign } = (await call(tokens.manager, 'mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id } }', {
      input: { clubId: clubA.id, message: 'Walk campaign' },
    })) as { sendCampaign: { id: string } };
    const [streamer] = await fx.streamers(1);
    await fx.wishlistItems([streamer!.id], 1);
    await fx.track(guestId, [streamer!.id]);
    await call(tokens.guest, 'mutation { registerWebhook(input: { url: "https://hooks.example.com/walk" }) { secret } }');
    await app.db.insert(telegramLinks).values({ userId: guestId, chatId: 424242, chatTitle: 'Walk Guest' });

    const id = (value: string) => JSON.stringify(value);
    const field = (root: 'Query' | 'Mutation' | 'Subscription', name: string) => {
      const type = root === 'Query' ? schema.getQueryType() : root === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType();
      return type!.getFields()[name]!;
    };
    const query = (name: string, ...args: string[]): Operation[] =>
      (args.length ? args : ['']).map((a) => ({ label: `${name}${a}`, kind: 'query', root: `${name}${a}`, field: field('Query', name) }));
    operations = [
      ...query('me'),
      ...query('booking', `(id: ${id(bookingA.id)})`, `(id: ${id(otherBookingA.id)})`, `(id: ${id(bookingB.id)})`),
      ...query('clubs', '(first: 2)'),
      ...query('club', `(slug: ${id(clubA.slug)})`, `(slug: ${id(clubB.slug)})`),
      ...query('night', `(id: ${id(nightA!.id)})`, `(id: ${id(nightB!.id)})`),
      ...query('streamer', `(id: ${id(streamer!.id)})`),
      ...query('streamers', '(first: 2)'),
      ...query('voteSession', `(id: ${id(voteSession.id)})`),
      ...query('campaign', `(id: ${id(sendCampaign.id)})`),
      ...query('nights', `(from: ${id(new Date(Date.now() - 2 * HOUR).toISOString())}, first: 2)`),
      // Mutations whose answers reach types no query does; each is harmless to repeat.
      { label: 'castVote', kind: 'mutation', root: `castVote(input: { sessionId: ${id(voteSession.id)}, songId: ${id(songs[1]!.id)} })`, field: field('Mutation', 'castVote') },
      { label: 'linkTelegram', kind: 'mutation', root: 'linkTelegram', field: field('Mutation', 'linkTelegram') },
      { label: 'requestSongUpload', kind: 'mutation', root: `requestSongUpload(songId: ${id(songs[1]!.id)}, contentType: "audio/mpeg", bytes: 1000)`, field: field('Mutation', 'requestSongUpload') },
      { label: 'registerWebhook', kind: 'mutation', root: 'registerWebhook(input: { url: "https://hooks.example.com/again" })', field: field('Mutation', 'registerWebhook') },
      { label: 'createAgent', kind: 'mutation', root: `createAgent(input: { userId: ${id(guestId)}, clubId: ${id(clubA.id)} })`, field: field('Mutation', 'createAgent') },
      { label: 'addGuest', kind: 'mutation', root: `addGuest(input: { nightId: ${id(nightA!.id)}, name: "Walk Again", agentCode: ${id(createAgent.code)} })`, field: field('Mutation', 'addGuest') },
      { label: 'openTableSession', kind: 'mutation', root: `openTableSession(input: { nightId: ${id(nightA!.id)}, tableId: ${id(tablesA[2]!.id)} })`, field: field('Mutation', 'openTableSession') },
      { label: 'availabilityChanged', kind: 'subscription', root: `availabilityChanged(nightId: ${id(nightA!.id)})`, field: field('Subscription', 'availabilityChanged') },
      { label: 'voteResultsChanged', kind: 'subscription', root: `voteResultsChanged(sessionId: ${id(voteSession.id)})`, field: field('Subscription', 'voteResultsChanged') },
    ];

    const userIdOf = async (token: string) => idOf(token);
    const clubsWhere = (entries: [string, string][]) => new Set(entries.map(([c]) => c));
    const viewer = async (role: string, token: string | undefined, staffAt: [string, string][], admin = false) =>
      viewers.push({
        token,
        facts: {
          role,
          signedIn: token !== undefined,
          userId: token ? await userIdOf(token) : null,
          admin,
          staffClubs: clubsWhere(staffAt),
          managerClubs: clubsWhere(staffAt.filter(([, r]) => r === 'MANAGER')),
        },
      });
    await viewer('anonymous', undefined, []);
    await viewer('guest', tokens.guest, []);
    await viewer('another guest', tokens.otherGuest, []);
    await viewer('host of the club', tokens.hostA, [[clubA.id, 'HOST']]);
    await viewer('host of another club', tokens.hostB, [[clubB.id, 'HOST']]);
    await viewer('manager', tokens.manager, [[clubA.id, 'MANAGER']]);
    await viewer('former staff', tokens.former, []);
    await viewer('admin', tokens.admin, [], true);
  });
  afterAll(() => app?.stop());

  it('has a row of the policy table for every field of the schema', () => {
    const missing = objectFields().filter((f) => {
      const [type, name] = f.split('.') as [string, string];
      return audiencesOf(policy, type, name) === undefined;
    });
    expect(missing).toEqual([]);
    const stale = [...policy].flatMap(([type, byField]) =>
      [...byField.keys()].filter((name) => name !== '*').filter((name) => !objectFields().includes(`${type}.${name}`)).map((name) => `${type}.${name}`),
    );
    expect(stale).toEqual([]);
  });

  it('shows no viewer a field the policy keeps from them, on any path from any root', async () => {
    const reached = new Set<string>();
    const leaks: Leak[] = [];
    let pairs = 0;
    const unexpected: string[] = [];
    for (const operation of operations) {
      const { text, fields } = documentOf(operation, reached);
      for (const { facts: viewerFacts, token } of viewers) {
        pairs += fields;
        let answer: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
        if (operation.kind === 'subscription') {
          const subscription = await subscribe(app.url, text, {}, { token });
          await subscription.until((results) => results.length > 0);
          answer = subscription.results[0]!;
          await subscription.close();
        } else {
          const response = await graphql(app.url, text, { token });
          answer = { data: response.data, errors: response.errors };
        }
        for (const error of answer.errors ?? []) {
          if (!REFUSALS.has(error.extensions?.code ?? '')) unexpected.push(`${viewerFacts.role} ${operation.label}: ${error.extensions?.code} ${error.message}`);
        }
        const data = answer.data as Record<string, unknown> | null | undefined;
        if (data) await leaksIn(operation.field.type, data[operation.field.name], operation.label, viewerFacts, leaks);
      }
    }
    const notReached = objectFields().filter((f) => !reached.has(f));
    // Notifications reach a subscriber only when one is delivered to them: test/notifications covers who gets which.
    expect(notReached.filter((f) => !f.startsWith('Notification.'))).toEqual([]);
    expect(unexpected).toEqual([]);
    console.info(`graph walk: ${operations.length} operations × ${viewers.length} viewers, ${pairs} (field path, viewer) pairs, ${leaks.length} leaks`);
    // One line per (viewer, Type.field) that leaked, with the number of paths and the first of them.
    const byField = new Map<string, Leak[]>();
    for (const leak of leaks) byField.set(`${leak.role}: ${leak.field} (who may: ${leak.audiences})`, [...(byField.get(`${leak.role}: ${leak.field} (who may: ${leak.audiences})`) ?? []), leak]);
    expect([...byField].map(([key, found]) => `${key} — ${found.length} paths, e.g. ${found[0]!.path}`)).toEqual([]);
  }, 300_000);
});
