import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clubStaff, clubs } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const CREATE = `mutation($input: CreateClubInput!) { createClub(input: $input) { id slug name timezone currency } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateClubInput!) { updateClub(id: $id, input: $input) { id name timezone } }`;
const ADD = `mutation($input: AddStaffInput!) { addStaff(input: $input) { role addedAt user { subject } } }`;
const REMOVE = `mutation($clubId: ID!, $subject: String!) { removeStaff(clubId: $clubId, subject: $subject) }`;
const STAFF = `query($slug: String!) { club(slug: $slug) { staff { role user { subject } } } }`;
const TABLES = `query($id: ID!) { night(id: $id) { tables { table { label } } } }`;

describe('clubs', () => {
  let app: TestApp;
  let admin: string;
  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.token({ subject: 'platform-admin', roles: ['admin'] });
  });
  afterAll(() => app?.stop());

  const clubCount = async () => (await app.db.select({ n: count() }).from(clubs))[0]!.n;

  it('lets an admin create a club, with its zone named canonically', async () => {
    const created = await graphql(app.url, CREATE, { token: admin, variables: { input: { slug: 'night-owl', name: ' Night Owl ', timezone: 'Europe/Berlin', currency: 'EUR' } } });
    expect(created.errors).toBeUndefined();
    expect(created.data.createClub).toMatchObject({ slug: 'night-owl', name: 'Night Owl', timezone: 'Europe/Berlin', currency: 'EUR' });
    expect((await graphql(app.url, `{ club(slug: "night-owl") { id } }`)).data.club.id).toBe(created.data.createClub.id);
  });

  it('refuses a taken slug with CONFLICT and a bad slug, zone or currency with BAD_USER_INPUT, creating nothing', async () => {
    const input = { slug: 'taken-one', name: 'Taken', timezone: 'Europe/Paris', currency: 'EUR' };
    expect((await graphql(app.url, CREATE, { token: admin, variables: { input } })).errors).toBeUndefined();
    const before = await clubCount();
    expect(codes(await graphql(app.url, CREATE, { token: admin, variables: { input } }))).toEqual(['CONFLICT']);
    for (const bad of [{ slug: 'Has Space' }, { slug: '-dash' }, { slug: 'x'.repeat(65) }, { timezone: 'Mars/Olympus' }, { timezone: '' }, { currency: 'EURO' }, { currency: 'XYZ' }, { name: '  ' }]) {
      expect(codes(await graphql(app.url, CREATE, { token: admin, variables: { input: { ...input, slug: 'fresh-slug', ...bad } } })), JSON.stringify(bad)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await clubCount()).toBe(before);
  });

  it('lets only admins create clubs', async () => {
    const input = { slug: 'not-allowed', name: 'No', timezone: 'UTC', currency: 'EUR' };
    expect(codes(await graphql(app.url, CREATE, { variables: { input } }))).toEqual(['UNAUTHENTICATED']);
    for (const roles of [['guest'], ['host'], ['manager']] as const) {
      const token = await app.token({ subject: `not-admin-${roles[0]}`, roles: [...roles] });
      expect(codes(await graphql(app.url, CREATE, { token, variables: { input } })), roles[0]).toEqual(['FORBIDDEN']);
    }
  });

  it('lets a manager of the club rename it and change its zone, and nobody else', async () => {
    const club = await fixtures(app.db).club();
    const manager = await app.token({ subject: 'renamer', roles: ['manager'], clubIds: [club.id] });
    const elsewhere = await app.token({ subject: 'other-manager', roles: ['manager'], clubIds: [crypto.randomUUID()] });
    const host = await app.token({ subject: 'renaming-host', roles: ['host'], clubIds: [club.id] });
    const input = { name: 'New Name', timezone: 'America/New_York' };
    expect(codes(await graphql(app.url, UPDATE, { token: elsewhere, variables: { id: club.id, input } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, UPDATE, { token: host, variables: { id: club.id, input } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, UPDATE, { token: manager, variables: { id: club.id, input: { timezone: 'Nowhere/Land' } } }))).toEqual(['BAD_USER_INPUT']);
    const updated = await graphql(app.url, UPDATE, { token: manager, variables: { id: club.id, input } });
    expect(updated.data.updateClub).toEqual({ id: club.id, name: 'New Name', timezone: 'America/New_York' });
    expect(codes(await graphql(app.url, UPDATE, { token: manager, variables: { id: crypto.randomUUID(), input } }))).toEqual(['NOT_FOUND']);
  });
});

describe('club staff kept in the database', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  async function club() {
    const row = await fx.club();
    const [night] = await fx.nights(row.id, 1);
    await fx.tables(row.id, 2);
    const manager = await app.token({ subject: `manager-of-${row.slug}`, roles: ['manager'], clubIds: [row.id] });
    return { club: row, nightId: night!.id, manager };
  }

  it('makes a plain signed-in user a host of the club, listed in Club.staff, until removed on their next request', async () => {
    const { club: c, nightId, manager } = await club();
    // A token with no roles for the club: only the database can make them staff.
    const door = await app.token({ subject: 'door-person' });
    expect(codes(await graphql(app.url, TABLES, { token: door, variables: { id: nightId } }))).toEqual(['FORBIDDEN']);

    const added = await graphql(app.url, ADD, { token: manager, variables: { input: { clubId: c.id, subject: 'door-person', role: 'HOST' } } });
    expect(added.errors).toBeUndefined();
    expect(added.data.addStaff).toMatchObject({ role: 'HOST', user: { subject: 'door-person' } });
    expect((await graphql(app.url, TABLES, { token: door, variables: { id: nightId } })).data.night.tables).toHaveLength(2);
    expect((await graphql(app.url, STAFF, { token: manager, variables: { slug: c.slug } })).data.club.staff).toEqual([{ role: 'HOST', user: { subject: 'door-person' } }]);

    expect((await graphql(app.url, REMOVE, { token: manager, variables: { clubId: c.id, subject: 'door-person' } })).data.removeStaff).toBe(true);
    expect(codes(await graphql(app.url, TABLES, { token: door, variables: { id: nightId } }))).toEqual(['FORBIDDEN']);
    expect((await graphql(app.url, STAFF, { token: manager, variables: { slug: c.slug } })).data.club.staff).toEqual([]);
    // Removing again is harmless: there was nothing left to end.
    expect((await graphql(app.url, REMOVE, { token: manager, variables: { clubId: c.id, subject: 'door-person' } })).data.removeStaff).toBe(false);
  });

  it('creates the user of a subject that never signed in, and lets a manager added here manage', async () => {
    const { club: c, manager } = await club();
    const added = await graphql(app.url, ADD, { token: manager, variables: { input: { clubId: c.id, subject: 'new-manager', role: 'MANAGER' } } });
    expect(added.data.addStaff.role).toBe('MANAGER');
    const token = await app.token({ subject: 'new-manager' });
    const rename = await graphql(app.url, UPDATE, { token, variables: { id: c.id, input: { name: 'Managed here' } } });
    expect(rename.errors).toBeUndefined();
    // Adding again changes the role.
    await graphql(app.url, ADD, { token: manager, variables: { input: { clubId: c.id, subject: 'new-manager', role: 'HOST' } } });
    expect(codes(await graphql(app.url, UPDATE, { token, variables: { id: c.id, input: { name: 'Not any more' } } }))).toEqual(['FORBIDDEN']);
  });

  it('refuses a token naming the club once its subject was removed, until a newer token or an add', async () => {
    const { club: c, nightId, manager } = await club();
    const oldToken = await app.token({ subject: 'idp-host', roles: ['host'], clubIds: [c.id] });
    expect((await graphql(app.url, TABLES, { token: oldToken, variables: { id: nightId } })).errors).toBeUndefined();
    // Not a member here at all: removing still outweighs the token from now on.
    expect((await graphql(app.url, REMOVE, { token: manager, variables: { clubId: c.id, subject: 'idp-host' } })).data.removeStaff).toBe(false);
    expect(codes(await graphql(app.url, TABLES, { token: oldToken, variables: { id: nightId } }))).toEqual(['FORBIDDEN']);
    // A token issued after the removal is the identity provider's newer word (iat has second precision).
    await new Promise((r) => setTimeout(r, 1_100));
    const newToken = await app.token({ subject: 'idp-host', roles: ['host'], clubIds: [c.id] });
    expect((await graphql(app.url, TABLES, { token: newToken, variables: { id: nightId } })).errors).toBeUndefined();
  });

  it('lets only managers of the club add, remove and list staff, and checks the input', async () => {
    const { club: c, manager } = await club();
    const host = await app.token({ subject: 'staffing-host', roles: ['host'], clubIds: [c.id] });
    const guest = await app.token({ subject: 'staffing-guest' });
    const otherManager = await app.token({ subject: 'staffing-other', roles: ['manager'], clubIds: [crypto.randomUUID()] });
    const input = { clubId: c.id, subject: 'someone', role: 'HOST' };
    const rows = async () => (await app.db.select({ n: count() }).from(clubStaff).where(eq(clubStaff.clubId, c.id)))[0]!.n;
    expect(codes(await graphql(app.url, ADD, { variables: { input } }))).toEqual(['UNAUTHENTICATED']);
    for (const token of [host, guest, otherManager]) {
      expect(codes(await graphql(app.url, ADD, { token, variables: { input } }))).toEqual(['FORBIDDEN']);
      expect(codes(await graphql(app.url, REMOVE, { token, variables: { clubId: c.id, subject: 'someone' } }))).toEqual(['FORBIDDEN']);
      const listed = await graphql(app.url, STAFF, { token, variables: { slug: c.slug } });
      expect(listed.data.club.staff).toBeNull();
      expect(codes(listed)).toEqual(['FORBIDDEN']);
    }
    expect(codes(await graphql(app.url, ADD, { token: manager, variables: { input: { ...input, subject: '   ' } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, ADD, { token: manager, variables: { input: { ...input, clubId: crypto.randomUUID() } } }))).toEqual(['NOT_FOUND']);
    expect(await rows()).toBe(0);
  });

});

describe('staff memberships per request', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('loads the caller’s memberships in one statement, for one club or twenty, and keeps them while unchanged', async () => {
    const fx = fixtures(app.db);
    const user = await fx.user('twenty-clubs');
    for (let i = 0; i < 20; i += 1) {
      const row = await fx.club({ slug: `twenty-${String(i).padStart(2, '0')}` });
      await app.db.insert(clubStaff).values({ clubId: row.id, userId: user.id, role: 'manager' });
    }
    const token = await app.token({ subject: 'twenty-clubs' });
    const query = (n: number) => `{ clubs(first: ${n}) { edges { node { slug staff { role } } } } }`;
    const one = await graphql(app.url, query(1), { token });
    const all = await graphql(app.url, query(20), { token });
    expect(all.errors).toBeUndefined();
    expect(all.data.clubs.edges.map((e: any) => e.node.staff)).toEqual(Array(20).fill([{ role: 'MANAGER' }]));
    // The page of clubs, the caller's memberships (all clubs at once), the staff lists (all
    // clubs at once); then the memberships are kept: unchanged, they cost no statement.
    expect(one.extensions!.sql!.statements).toBe(3);
    expect(all.extensions!.sql!.statements).toBe(2);
  });
});
