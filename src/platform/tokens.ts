import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { roles, type Principal, type Role, type Viewer } from './auth.js';
import { claimAt, namesClaim, putClaim } from './claims.js';
import { providerKeys, type ProviderKeysOptions } from './provider-keys.js';

/** How bearer tokens are checked: signed by this server (HS256), or by an identity provider. */
export interface TokenOptions {
  /** The HS256 key of tokens this server signs itself; used when no provider is named. */
  secret?: string | undefined;
  /** An identity provider whose keys sign the tokens (RS256, ES256, EdDSA…); HS256 is then refused. */
  provider?: Omit<ProviderKeysOptions, 'onFetch'> | undefined;
  /** Required `iss`; with a secret, `nightgraph` when unset; with OIDC discovery, the provider's own. */
  issuer?: string | undefined;
  /** Accepted `aud` values (one of them must be in the token); unchecked when empty. */
  audience?: string[] | undefined;
  /** Dot path of the roles claim (`realm_access.roles`); a token without it is a guest's. */
  rolesClaim: string;
  /** Dot path of the clubs claim. */
  clubIdsClaim: string;
}

export interface TokenService {
  /** Reads an `Authorization` header value; never throws. */
  viewerFrom(authorization: string | undefined | null): Promise<Viewer>;
  /** Whether `sign` works: only a server that holds the secret signs tokens. */
  readonly signs: boolean;
  sign(principal: Principal, expiresIn?: string): Promise<string>;
}

/** The issuer of tokens this server signs. */
export const OWN_ISSUER = 'nightgraph';
const OWN_ALGORITHM = 'HS256';
/**
 * What a provider may sign with. Never a symmetric algorithm and never `none`: an HS256
 * token "signed" with a provider's public key is refused before any key is looked at.
 */
const PROVIDER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Verified tokens kept, so a client's every request does not pay for a signature check and a parse. */
const VERIFIED_TOKENS_KEPT = 10_000;

const clubIdSchema = z.uuid();
const known = new Set<string>(roles);

type Verified = { principal: Principal; expiresAtMs: number; issuedAtMs?: number; generation: number };

/** The principal a verified payload names, or why it names none. */
function principalOf(payload: JWTPayload, options: TokenOptions): Principal | string {
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) return 'the token has no subject (sub)';
  const roleNames = namesClaim(claimAt(payload, options.rolesClaim));
  if (roleNames === null) return `the token's ${options.rolesClaim} claim is not a list of role names`;
  // A provider's tokens carry roles of its own (offline_access, …): only ours count, and none is a guest.
  const ours = (roleNames ?? []).filter((name): name is Role => known.has(name));
  const clubIds = namesClaim(claimAt(payload, options.clubIdsClaim));
  if (clubIds === null || clubIds?.some((id) => !clubIdSchema.safeParse(id).success)) {
    return `the token's ${options.clubIdsClaim} claim is not a list of club ids`;
  }
  return { subject: payload.sub, roles: ours.length > 0 ? [...new Set(ours)] : ['guest'], clubIds: clubIds ?? [] };
}

/**
 * Bearer tokens, verified once and remembered until they expire. With a provider, a
 * remembered token is verified again whenever the provider's key set has been fetched
 * anew or has grown old, so a key removed at the provider stops working here too.
 */
export function createTokenService(
  options: TokenOptions,
  hooks: { onFetch?: ProviderKeysOptions['onFetch']; warn?: (message: string) => void } = {},
): TokenService {
  const keys = options.provider ? providerKeys({ ...options.provider, onFetch: hooks.onFetch }) : undefined;
  const secret = options.secret === undefined ? undefined : new TextEncoder().encode(options.secret);
  if (!keys && !secret) throw new Error('bearer tokens need a secret or an identity provider');
  const audience = options.audience && options.audience.length > 0 ? options.audience : undefined;
  if (options.provider && !audience) {
    hooks.warn?.('JWT_AUDIENCE is not set: tokens the identity provider issued for any of its applications are accepted');
  }
  if (options.provider && !options.issuer && !options.provider.oidcIssuer) {
    hooks.warn?.('JWT_ISSUER is not set: tokens of any issuer signed with the key set at JWT_JWKS_URL are accepted');
  }
  const verified = new Map<string, Verified>();

  const verify = async (token: string) => {
    if (!keys) {
      return jwtVerify(token, secret!, { algorithms: [OWN_ALGORITHM], issuer: options.issuer ?? OWN_ISSUER, ...(audience ? { audience } : {}) });
    }
    const generation = keys.generation;
    let resolved: { getKey: JWTVerifyGetKey; discoveredIssuer: string | undefined };
    try {
      resolved = await keys.resolve();
    } catch {
      throw new ProviderUnreachable();
    }
    const issuer = options.issuer ?? resolved.discoveredIssuer;
    const getKey: JWTVerifyGetKey = async (header, jws) => {
      try {
        return await resolved.getKey(header, jws);
      } catch (error) {
        // An unknown or ambiguous kid is the token's fault; a failed fetch of the set is not.
        if (error instanceof joseErrors.JOSEError && !['ERR_JOSE_GENERIC', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID'].includes(error.code)) throw error;
        throw new ProviderUnreachable();
      }
    };
    const result = await jwtVerify(token, getKey, { algorithms: PROVIDER_ALGORITHMS, ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}) });
    // The set it was verified under: the one fetched by now (a fetch during the check counts).
    return { ...result, generation: Math.max(generation, keys.generation) };
  };

  return {
    signs: !keys,
    async viewerFrom(authorization) {
      if (!authorization) return { kind: 'anonymous' };
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) return { kind: 'anonymous', tokenProblem: 'the Authorization header must be "Bearer <token>"' };
      const token = match[1]!;
      const remembered = verified.get(token);
      if (remembered && remembered.expiresAtMs > Date.now() && (!keys || (keys.fresh && remembered.generation === keys.generation))) {
        const { generation: _, ...viewer } = remembered;
        return { kind: 'user', ...viewer };
      }
      try {
        const { payload, ...rest } = await verify(token);
        const principal = principalOf(payload, options);
        if (typeof principal === 'string') return { kind: 'anonymous', tokenProblem: principal };
        const issuedAtMs = payload.iat === undefined ? {} : { issuedAtMs: payload.iat * 1000 };
        if (payload.exp === undefined) return { kind: 'user', principal, ...issuedAtMs };
        const entry = { principal, expiresAtMs: payload.exp * 1000, ...issuedAtMs };
        if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
        verified.set(token, { ...entry, generation: 'generation' in rest ? rest.generation : 0 });
        return { kind: 'user', ...entry };
      } catch (error) {
        return { kind: 'anonymous', tokenProblem: problemOf(error) };
      }
    },
    sign(principal, expiresIn = '12h') {
      if (!secret) throw new Error('this server verifies an identity provider’s tokens and signs none');
      const claims: Record<string, unknown> = {};
      putClaim(claims, options.rolesClaim, principal.roles);
      putClaim(claims, options.clubIdsClaim, principal.clubIds);
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: OWN_ALGORITHM })
        .setSubject(principal.subject)
        .setIssuer(options.issuer ?? OWN_ISSUER)
        .setIssuedAt()
        .setExpirationTime(expiresIn);
      return (audience ? jwt.setAudience(audience[0]!) : jwt).sign(secret);
    },
  };
}

class ProviderUnreachable extends Error {}

function problemOf(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof ProviderUnreachable) return 'the identity provider could not be reached to verify the token; try again';
  if (error instanceof joseErrors.JWTClaimValidationFailed && (error.claim === 'aud' || error.claim === 'iss')) {
    return `the token is not meant for this server (its ${error.claim} claim)`;
  }
  return 'the token is not valid for this server';
}

/**
 * The configured secret, or one generated on first start and kept in `<dataDir>/jwt-secret`
 * so tokens survive restarts. `warn` is told when that happens. Processes starting together
 * on one data directory (WEB_CONCURRENCY workers) all answer the same secret.
 */
export function resolveJwtSecret(configured: string | undefined, dataDir: string, warn: (msg: string) => void): string {
  if (configured) return configured;
  const file = join(dataDir, 'jwt-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    // Written in full under a name of this process's own, then linked into place: the link
    // fails if another process's secret got there first, and that one is then everyone's.
    // (Writing the file directly could let another process read it half written, or
    // overwrite it after a third had read it, and tokens would verify on one process only.)
    const draft = `${file}.${process.pid}`;
    writeFileSync(draft, `${secret}\n`, { mode: 0o600 });
    try {
      linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return readFileSync(file, 'utf8').trim();
    } finally {
      rmSync(draft, { force: true });
    }
    warn(`JWT_SECRET is not set: generated one in ${file}. Set JWT_SECRET in production.`);
    return secret;
  }
}

/** Tokens this server signs with `secret`, with the default claims: what the CLI, tests and benchmarks use. */
export function ownTokenService(secret: string): TokenService {
  return createTokenService({ secret, rolesClaim: 'roles', clubIdsClaim: 'clubIds' });
}
