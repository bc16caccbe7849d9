import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { z } from 'zod';
import { unauthenticated } from '../errors.js';

export const roles = ['guest', 'host', 'manager', 'admin'] as const;
export type Role = (typeof roles)[number];

/** Who a verified token says the caller is. */
export interface Principal {
  subject: string;
  roles: Role[];
  /** Clubs the caller works at (hosts and managers). */
  clubIds: string[];
}

/** The caller of one request: a principal, or nobody (with the reason a token was refused). */
export type Viewer =
  | {
      kind: 'user';
      principal: Principal;
      /** When the token stops being valid. */
      expiresAtMs?: number;
      /** When it was issued: a staff removal recorded later outweighs the clubs it names. */
      issuedAtMs?: number;
    }
  | { kind: 'anonymous'; tokenProblem?: string };

const claimsSchema = z.object({
  sub: z.string().min(1),
  roles: z.array(z.enum(roles)).min(1),
  clubIds: z.array(z.uuid()).default([]),
});

const ALGORITHM = 'HS256';
const ISSUER = 'nightgraph';

export interface TokenService {
  /** Reads an `Authorization` header value; never throws. */
  viewerFrom(authorization: string | undefined | null): Promise<Viewer>;
  sign(principal: Principal, expiresIn?: string): Promise<string>;
}

/** Verified tokens kept, so a client's every request does not pay for an HMAC and a parse. */
const VERIFIED_TOKENS_KEPT = 10_000;

export function createTokenService(secret: string): TokenService {
  const key = new TextEncoder().encode(secret);
  const verified = new Map<string, { principal: Principal; expiresAtMs: number; issuedAtMs?: number }>();
  return {
    async viewerFrom(authorization) {
      if (!authorization) return { kind: 'anonymous' };
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) return { kind: 'anonymous', tokenProblem: 'the Authorization header must be "Bearer <token>"' };
      const token = match[1]!;
      const known = verified.get(token);
      if (known && known.expiresAtMs > Date.now()) return { kind: 'user', ...known };
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], issuer: ISSUER });
        const claims = claimsSchema.safeParse(payload);
        if (!claims.success) return { kind: 'anonymous', tokenProblem: 'the token lacks valid sub/roles/clubIds claims' };
        const principal = { subject: claims.data.sub, roles: claims.data.roles, clubIds: claims.data.clubIds };
        const issuedAtMs = payload.iat === undefined ? undefined : payload.iat * 1000;
        if (payload.exp === undefined) return { kind: 'user', principal, ...(issuedAtMs === undefined ? {} : { issuedAtMs }) };
        const entry = { principal, expiresAtMs: payload.exp * 1000, ...(issuedAtMs === undefined ? {} : { issuedAtMs }) };
        if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
        verified.set(token, entry);
        return { kind: 'user', ...entry };
      } catch (error) {
        const problem =
          error instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid for this server';
        return { kind: 'anonymous', tokenProblem: problem };
      }
    },
    sign(principal, expiresIn = '12h') {
      return new SignJWT({ roles: principal.roles, clubIds: principal.clubIds })
        .setProtectedHeader({ alg: ALGORITHM })
        .setSubject(principal.subject)
        .setIssuer(ISSUER)
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(key);
    },
  };
}

/**
 * The configured secret, or in embedded mode one generated on first start and kept in
 * `<dataDir>/jwt-secret` so tokens survive restarts. `warn` is told when that happens.
 */
export function resolveJwtSecret(configured: string | undefined, dataDir: string, warn: (msg: string) => void): string {
  if (configured) return configured;
  const file = join(dataDir, 'jwt-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    warn(`JWT_SECRET is not set: generated one in ${file}. Set JWT_SECRET in production.`);
    return secret;
  }
}

/** The principal of a signed-in caller; UNAUTHENTICATED otherwise. */
export function requirePrincipal(viewer: Viewer): Principal {
  if (viewer.kind === 'user') return viewer.principal;
  throw unauthenticated(
    viewer.tokenProblem ? `Sign in again: ${viewer.tokenProblem}` : 'Sign in: this field needs a bearer token',
  );
}

/** What the token alone says of the caller at `clubId` (club_staff may say more, or less: see modules/staff). */
export function tokenRoleAt(principal: Principal, clubId: string): 'admin' | 'manager' | 'host' | null {
  if (principal.roles.includes('admin')) return 'admin';
  if (!principal.clubIds.includes(clubId)) return null;
  if (principal.roles.includes('manager')) return 'manager';
  if (principal.roles.includes('host')) return 'host';
  return null;
}
