import { count, eq } from 'drizzle-orm';
import { SignJWT, UnsecuredJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';

const meQuery = `{ me { id subject roles } }`;

describe('bearer tokens', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('answers me with the token subject and roles, creating the user on first use', async () => {
    const token = await app.token({ subject: 'first-timer', roles: ['guest', 'host'], clubIds: [] });
    const first = await graphql(app.url, meQuery, { token });
    expect(first.errors).toBeUndefined();
    expect(first.data.me).toMatchObject({ subject: 'first-timer', roles: ['GUEST', 'HOST'] });
    const second = await graphql(app.url, meQuery, { token });
    expect(second.data.me.id).toBe(first.data.me.id);
  });

  it('creates one user when a new subject makes 20 requests at once', async () => {
    const token = await app.token({ subject: 'stampede' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => graphql(app.url, meQuery, { token })));
    expect(responses.flatMap((r) => r.errors ?? [])).toEqual([]);
    expect(new Set(responses.map((r) => r.data.me.id)).size).toBe(1);
    const [row] = await app.db.select({ n: count() }).from(users).where(eq(users.subject, 'stampede'));
    expect(row!.n).toBe(1);
  });

  it('answers me with null and no error without a token, and UNAUTHENTICATED for a refused one', async () => {
    const response = await graphql(app.url, meQuery);
    expect(response.errors).toBeUndefined();
    expect(response.data.me).toBeNull();
    expect(codes(await graphql(app.url, meQuery, { token: 'not-a-token' }))).toEqual(['UNAUTHENTICATED']);
  });

  it('keeps the rest of an answer when one field is refused: a guest reading a night gets its times, and tables null', async () => {
    const club = await fixtures(app.db).club();
    const [night] = await fixtures(app.db).nights(club.id, 1);
    const guest = await app.token({ subject: 'partial-guest' });
    const response = await graphql(app.url, `query($id: ID!) { night(id: $id) { id startsAt tables { state } guests { edges { cursor } } entryStats { total } } clubs(first: 1) { edges { node { id } } } }`, {
      token: guest,
      variables: { id: night!.id },
    });
    expect(response.data.night).toMatchObject({ id: night!.id, startsAt: night!.startsAt.toISOString(), tables: null, guests: null, entryStats: null });
    expect(response.data.clubs.edges).toHaveLength(1);
    expect(response.errors!.map((e) => [e.path!.join('.'), e.extensions!.code]).sort()).toEqual([
      ['night.entryStats', 'FORBIDDEN'],
      ['night.guests', 'FORBIDDEN'],
      ['night.tables', 'FORBIDDEN'],
    ]);
  });

  it('keeps the rest of a subscription event when one field is refused: a guest watching availability gets it, and the night’s tables null', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    await fx.tables(club.id, 2);
    const guest = await app.token({ subject: 'partial-watcher' });
    const subscription = await subscribe(
      app.url,
      'subscription($id: ID!) { availabilityChanged(nightId: $id) { nightId version tables { state } night { id startsAt tables { state } bookings { edges { cursor } } } } }',
      { id: night!.id },
      { token: guest },
    );
    try {
      await subscription.until((results) => results.length > 0);
      const [event] = subscription.results;
      expect(event!.data!.availabilityChanged).toMatchObject({
        nightId: night!.id,
        tables: [{ state: 'FREE' }, { state: 'FREE' }],
        night: { id: night!.id, startsAt: night!.startsAt.toISOString(), tables: null, bookings: null },
      });
      expect(event!.errors!.map((e: any) => [e.path.join('.'), e.extensions.code]).sort()).toEqual([
        ['availabilityChanged.night.bookings', 'FORBIDDEN'],
        ['availabilityChanged.night.tables', 'FORBIDDEN'],
      ]);
    } finally {
      await subscription.close();
    }
  });

  it('answers a subscriber’s private fields as that subscriber: a host watching availability sees the night’s tables', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    await fx.tables(club.id, 1);
    const host = await app.token({ subject: 'watching-host', roles: ['host'], clubIds: [club.id] });
    const guest = await app.token({ subject: 'watching-guest' });
    const query = 'subscription($id: ID!) { availabilityChanged(nightId: $id) { version night { id tables { state } } } }';
    const [asHost, asGuest] = await Promise.all([subscribe(app.url, query, { id: night!.id }, { token: host }), subscribe(app.url, query, { id: night!.id }, { token: guest })]);
    try {
      await Promise.all([asHost.until((r) => r.length > 0), asGuest.until((r) => r.length > 0)]);
      expect(asHost.results[0]!.errors).toBeUndefined();
      expect(asHost.results[0]!.data!.availabilityChanged.night.tables).toEqual([{ state: 'FREE' }]);
      expect(asGuest.results[0]!.data!.availabilityChanged.night.tables).toBeNull();
    } finally {
      await Promise.all([asHost.close(), asGuest.close()]);
    }
  });

  it('refuses a token signed with another secret, an expired one and a malformed header', async () => {
    const foreign = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setIssuer('nightgraph')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    const expired = await app.tokens.sign({ subject: 'late', roles: ['guest'], clubIds: [] }, '-1m');
    for (const headers of [
      { authorization: `Bearer ${foreign}` },
      { authorization: `Bearer ${expired}` },
      { authorization: 'Token abc' },
    ]) {
      const response = await graphql(app.url, meQuery, { headers });
      expect(codes(response)).toEqual(['UNAUTHENTICATED']);
      expect(response.errors![0]!.message).toMatch(/^Sign in again: /);
    }
  });

  it('refuses an unsigned token (alg none), one without a subject, a wrong signature and an expired one, over HTTP and WebSocket', async () => {
    const secret = new TextEncoder().encode(app.config.jwtSecret!);
    const claims = { roles: ['admin'], clubIds: [] };
    const unsigned = new UnsecuredJWT(claims).setSubject('mallory').setIssuer('nightgraph').setExpirationTime('1h').encode();
    const noSubject = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('nightgraph').setExpirationTime('1h').sign(secret);
    const [header, payload] = (await app.token({ subject: 'honest', roles: ['guest'] })).split('.');
    const wrongSignature = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const expired = await app.tokens.sign({ subject: 'late', roles: ['guest'], clubIds: [] }, '-1m');
    for (const [name, token] of Object.entries({ unsigned, noSubject, wrongSignature, expired })) {
      const overHttp = await graphql(app.url, meQuery, { token });
      expect(codes(overHttp), name).toEqual(['UNAUTHENTICATED']);
      // The socket refuses the connection itself: graphql-ws close code 4403 (Forbidden).
      const socket = new WebSocket(app.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      expect(await closed, name).toBe(4403);
    }
  });

  it('keeps public fields public when the token is bad', async () => {
    const response = await graphql(app.url, `{ clubs { edges { node { id } } } }`, { headers: { authorization: 'Bearer nonsense' } });
    expect(response.errors).toBeUndefined();
  });

  it('counts only our roles: a token naming none of them is a guest’s, and one whose roles claim is not a list of names is refused', async () => {
    const secret = new TextEncoder().encode(app.config.jwtSecret!);
    const signed = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setIssuer('nightgraph').setExpirationTime('1h').sign(secret);
    const unknownRole = await graphql(app.url, meQuery, { token: await signed({ roles: ['superuser'] }) });
    expect(unknownRole.errors).toBeUndefined();
    expect(unknownRole.data.me).toMatchObject({ subject: 'eve', roles: ['GUEST'] });
    for (const roles of [7, { admin: true }, [['admin']]]) {
      expect(codes(await graphql(app.url, meQuery, { token: await signed({ roles }) })), JSON.stringify(roles)).toEqual(['UNAUTHENTICATED']);
    }
    expect(codes(await graphql(app.url, meQuery, { token: await signed({ roles: ['host'], clubIds: ['not-a-club'] }) }))).toEqual(['UNAUTHENTICATED']);
  });
});
