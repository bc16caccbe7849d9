import { createPublicKey, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export type ProviderAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

interface SigningKey {
  kid: string;
  alg: ProviderAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * A stand-in OpenID Connect provider on a port of its own: its discovery document at
 * `/.well-known/openid-configuration`, its key set at `/jwks`, keys that can be added
 * and removed while it runs, and a count of every request it answered.
 */
export interface IdentityProvider {
  /** The issuer URL (also the base of its documents). */
  issuer: string;
  jwksUrl: string;
  /** Requests answered, by path. */
  requests: Map<string, number>;
  /** Adds a signing key to the published set; returns its kid. */
  addKey(alg: ProviderAlgorithm): Promise<string>;
  /** Takes a key out of the published set (tokens it signed stay signed). */
  removeKey(kid: string): void;
  /** Signs a token with a key of the set (or one taken out of it). */
  sign(kid: string, claims: Record<string, unknown>, options?: { subject?: string; issuer?: string; audience?: string; expiresIn?: string }): Promise<string>;
  /** A public key of the set, as PEM (what an attacker can read). */
  publicPem(kid: string): string;
  /** While down, every request is answered 503. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startIdentityProvider(): Promise<IdentityProvider> {
  const keys = new Map<string, SigningKey>();
  const published = new Set<string>();
  const requests = new Map<string, number>();
  let down = false;
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (down) {
      res.writeHead(503).end();
      return;
    }
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/.well-known/openid-configuration') return json({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'] });
    if (path === '/jwks') return json({ keys: [...published].map((kid) => keys.get(kid)!.publicJwk) });
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    requests,
    async addKey(alg) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const kid = randomUUID();
      keys.set(kid, { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } });
      published.add(kid);
      return kid;
    },
    removeKey(kid) {
      published.delete(kid);
    },
    async sign(kid, claims, options = {}) {
      const key = keys.get(kid)!;
      let jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: key.alg, kid, typ: 'JWT' })
        .setSubject(options.subject ?? 'provider-user')
        .setIssuer(options.issuer ?? issuer)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '1h');
      if (options.audience) jwt = jwt.setAudience(options.audience);
      return jwt.sign(key.privateKey);
    },
    publicPem(kid) {
      return createPublicKey({ key: keys.get(kid)!.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    },
    setDown(value) {
      down = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
