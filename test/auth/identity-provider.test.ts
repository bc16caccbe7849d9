import { SignJWT, UnsecuredJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { sample, scrape } from '../support/metrics.js';
import { startIdentityProvider, type IdentityProvider } from '../support/identity-provider.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';

const meQuery = `{ me { subject roles } }`;
const AUDIENCE = 'nightgraph-api';
/** Where the provider in these tests keeps roles and clubs: Keycloak's place, and an Auth0-style namespaced claim. */
const ROLES_CLAIM = 'realm_access.roles';
const CLUBS_CLAIM = 'https://nightgraph.example/claims.clubIds';
const COOLDOWN_SECONDS = 0.5;

const claims = (roles: string[], clubIds: string[] = []) => ({
  realm_access: { roles },
  'https://nightgraph.example/claims': { clubIds },
});

/** graphql-ws's close code when a connection's token is refused (4403), or 0 once acknowledged. */
async function socketVerdict(url: string, token: string): Promise<number> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  return new Promise<number>((resolve) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        socket.close();
        resolve(0);
      }
    });
    socket.once('close', (code) => resolve(code));
  });
}

async function refusedEverywhere(app: TestApp, token: string, name: string) {
  const response = await graphql(app.url, meQuery, { token });
  expect(codes(response), name).toEqual(['UNAUTHENTICATED']);
  expect(await socketVerdict(app.url, token), name).toBe(4403);
}

describe('tokens of an identity provider (JWT_JWKS_URL)', () => {
  let provider: IdentityProvider;
  let app: TestApp;
  const kids: Record<'rsa' | 'ec' | 'ed', string> = { rsa: '', ec: '', ed: '' };
  beforeAll(async () => {
    provider = await startIdentityProvider();
    kids.rsa = await provider.addKey('RS256');
    kids.ec = await provider.addKey('ES256');
    kids.ed = await provider.addKey('EdDSA');
    app = await startTestApp({
      JWT_JWKS_URL: provider.jwksUrl,
      JWT_ISSUER: provider.issuer,
      JWT_AUDIENCE: `other-api, ${AUDIENCE}`,
      JWT_ROLES_CLAIM: ROLES_CLAIM,
      JWT_CLUB_IDS_CLAIM: CLUBS_CLAIM,
      JWT_JWKS_COOLDOWN_SECONDS: String(COOLDOWN_SECONDS),
    });
  });
  afterAll(async () => {
    await app?.stop();
    await provider?.close();
  });

  it('accepts RS256, ES256 and EdDSA tokens signed by the published keys, reading roles and clubs at their dot paths', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    await fx.tables(club.id, 1);
    for (const [name, kid] of Object.entries(kids)) {
      const token = await provider.sign(kid, claims(['offline_access', 'host'], [club.id]), { subject: `host-${name}`, audience: AUDIENCE });
      const response = await graphql(app.url, `query($id: ID!) { me { subject roles } night(id: $id) { tables { state } } }`, { token, variables: { id: night!.id } });
      expect(response.errors, name).toBeUndefined();
      // offline_access is the provider's own role: it counts for nothing here.
      expect(response.data.me, name).toEqual({ subject: `host-${name}`, roles: ['HOST'] });
      expect(response.data.night.tables, name).toEqual([{ state: 'FREE' }]);
    }
  });

  it('reads a token without a roles claim as a guest’s', async () => {
    const token = await provider.sign(kids.rsa, {}, { subject: 'plain-user', audience: AUDIENCE });
    const response = await graphql(app.url, meQuery, { token });
    expect(response.errors).toBeUndefined();
    expect(response.data.me).toEqual({ subject: 'plain-user', roles: ['GUEST'] });
  });

  it('applies the same rules to subscriptions: a host’s private fields over WebSocket, and a refused token closes the socket', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    await fx.tables(club.id, 2);
    const host = await provider.sign(kids.ec, claims(['host'], [club.id]), { subject: 'ws-host', audience: AUDIENCE });
    const subscription = await subscribe(app.url, 'subscription($id: ID!) { availabilityChanged(nightId: $id) { version night { tables { state } } } }', { id: night!.id }, { token: host });
    try {
      await subscription.until((results) => results.length > 0);
      expect(subscription.results[0]!.errors).toBeUndefined();
      expect(subscription.results[0]!.data!.availabilityChanged.night.tables).toEqual([{ state: 'FREE' }, { state: 'FREE' }]);
    } finally {
      await subscription.close();
    }
    const wrongAudience = await provider.sign(kids.ec, claims(['host'], [club.id]), { subject: 'ws-host', audience: 'someone-else' });
    expect(await socketVerdict(app.url, wrongAudience)).toBe(4403);
  });

  it('refuses a wrong audience, a wrong issuer, alg none, an HS256 token signed with the public key, an expired one and a bad clubs claim', async () => {
    const wrongAudience = await provider.sign(kids.rsa, claims(['admin']), { audience: 'billing-api' });
    const noAudience = await provider.sign(kids.rsa, claims(['admin']));
    const wrongIssuer = await provider.sign(kids.rsa, claims(['admin']), { audience: AUDIENCE, issuer: 'https://evil.example' });
    const unsigned = new UnsecuredJWT(claims(['admin'])).setSubject('mallory').setIssuer(provider.issuer).setAudience(AUDIENCE).setExpirationTime('1h').encode();
    // The classic confusion: the provider's public key (anyone can read it) used as an HMAC secret.
    const confused = await new SignJWT(claims(['admin']))
      .setProtectedHeader({ alg: 'HS256', kid: kids.rsa })
      .setSubject('mallory')
      .setIssuer(provider.issuer)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(provider.publicPem(kids.rsa)));
    const expired = await provider.sign(kids.ed, claims(['guest']), { audience: AUDIENCE, expiresIn: '-1m' });
    const badClubs = await provider.sign(kids.ed, { 'https://nightgraph.example/claims': { clubIds: ['not-a-club'] } }, { audience: AUDIENCE });
    for (const [name, token] of Object.entries({ wrongAudience, noAudience, wrongIssuer, unsigned, confused, expired, badClubs })) {
      await refusedEverywhere(app, token, name);
    }
    expect((await graphql(app.url, meQuery, { token: wrongAudience })).errors![0]!.message).toMatch(/not meant for this server \(its aud claim\)/);
  });

  it('follows a key rotation without a restart: a new kid works, a removed key stops working even for a token it accepted before', async () => {
    const oldToken = await provider.sign(kids.rsa, claims(['guest']), { subject: 'rotating', audience: AUDIENCE });
    expect((await graphql(app.url, meQuery, { token: oldToken })).data.me).toMatchObject({ subject: 'rotating' });
    const newKid = await provider.addKey('RS256');
    provider.removeKey(kids.rsa);
    // The set was fetched less than a cooldown ago: let it pass, as it does between real rotations.
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_SECONDS * 1000 + 100));
    const newToken = await provider.sign(newKid, claims(['guest']), { subject: 'rotated', audience: AUDIENCE });
    const response = await graphql(app.url, meQuery, { token: newToken });
    expect(response.errors).toBeUndefined();
    expect(response.data.me).toMatchObject({ subject: 'rotated' });
    await refusedEverywhere(app, oldToken, 'a token of the removed key');
    kids.rsa = newKid;
  });

  it('fetches the key set at most once per cooldown however many unknown kids arrive', async () => {
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_SECONDS * 1000 + 100));
    const before = provider.requests.get('/jwks') ?? 0;
    const stray = await provider.addKey('ES256');
    provider.removeKey(stray);
    const forged = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        provider.sign(stray, claims(['admin']), { subject: `forger-${i}`, audience: AUDIENCE }).then((token) => {
          // A different kid on every token, none of them published.
          const [header, ...rest] = token.split('.');
          const decoded = JSON.parse(Buffer.from(header!, 'base64url').toString());
          return [Buffer.from(JSON.stringify({ ...decoded, kid: `made-up-${i}` })).toString('base64url'), ...rest].join('.');
        }),
      ),
    );
    const responses = await Promise.all(forged.map((token) => graphql(app.url, meQuery, { token })));
    expect(responses.map(codes).flat()).toEqual(forged.map(() => 'UNAUTHENTICATED'));
    expect((provider.requests.get('/jwks') ?? 0) - before).toBeLessThanOrEqual(1);
    // Every fetch the provider answered is counted for operators.
    expect(sample(await scrape(app.url), 'nightgraph_identity_provider_fetches_total{document="keys",outcome="ok"}')).toBe(provider.requests.get('/jwks'));
  });

  it('signs no tokens of its own and refuses HS256 ones', async () => {
    expect(app.tokens.signs).toBe(false);
    const own = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('insider')
      .setIssuer(provider.issuer)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(app.config.jwtSecret!));
    await refusedEverywhere(app, own, 'HS256 with JWT_SECRET');
  });
});

describe('tokens of an OpenID Connect provider (JWT_OIDC_ISSUER)', () => {
  let provider: IdentityProvider;
  let app: TestApp;
  let kid: string;
  beforeAll(async () => {
    provider = await startIdentityProvider();
    kid = await provider.addKey('ES256');
    // The provider is down when the server starts: the server starts anyway.
    provider.setDown(true);
    app = await startTestApp({ JWT_OIDC_ISSUER: provider.issuer, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_COOLDOWN_SECONDS: String(COOLDOWN_SECONDS) });
  });
  afterAll(async () => {
    await app?.stop();
    await provider?.close();
  });

  it('says the provider could not be reached while it is down, and accepts its tokens once it is back', async () => {
    const token = await provider.sign(kid, { roles: ['manager'] }, { subject: 'oidc-manager', audience: AUDIENCE });
    const whileDown = await graphql(app.url, meQuery, { token });
    expect(codes(whileDown)).toEqual(['UNAUTHENTICATED']);
    expect(whileDown.errors![0]!.message).toMatch(/identity provider could not be reached/);
    provider.setDown(false);
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_SECONDS * 1000 + 100));
    const back = await graphql(app.url, meQuery, { token });
    expect(back.errors).toBeUndefined();
    expect(back.data.me).toEqual({ subject: 'oidc-manager', roles: ['MANAGER'] });
  });

  it('finds the key set through discovery once, and holds tokens to the discovered issuer', async () => {
    const discoveries = provider.requests.get('/.well-known/openid-configuration') ?? 0;
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => provider.sign(kid, {}, { subject: `oidc-${i}`, audience: AUDIENCE })));
    const responses = await Promise.all(tokens.map((token) => graphql(app.url, meQuery, { token })));
    expect(responses.map((r) => r.data.me.subject)).toEqual(tokens.map((_, i) => `oidc-${i}`));
    expect(provider.requests.get('/.well-known/openid-configuration') ?? 0).toBe(discoveries);
    const foreignIssuer = await provider.sign(kid, {}, { audience: AUDIENCE, issuer: 'https://elsewhere.example' });
    await refusedEverywhere(app, foreignIssuer, 'another issuer');
  });
});
