import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { z } from 'zod';
import { forbidden, unauthenticated } from '../errors.js';

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
  | { kind: 'user'; principal: Principal; /** When the token stops being valid. */ expiresAtMs?: number }
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
  const verified = new Map<string, { principal: Principal; expiresAtMs: number }>();
  return {
    async viewerFrom(authorization) {
      if (!authorization) return { kind: 'anonymous' };
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) return { kind: 'anonymous', tokenProblem: 'the Authorization header must be "Bearer <token>"' };
      const token = match[1]!;
      const known = verified.get(token);
      if (known && known.expiresAtMs > Date.now()) return { kind: 'user', principal: known.principal, expiresAtMs: known.expiresAtMs };
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], issuer: ISSUER });
        const claims = claimsSchema.safeParse(payload);
        if (!claims.success) return { kind: 'anonymous', tokenProblem: 'the token lacks valid sub/roles/clubIds claims' };
        const principal = { subject: claims.data.sub, roles: claims.data.roles, clubIds: claims.data.clubIds };
        if (payload.exp === undefined) return { kind: 'user', principal };
        const expiresAtMs = payload.exp * 1000;
        if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
        verified.set(token, { principal, expiresAtMs });
        return { kind: 'user', principal, expiresAtMs };
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

/** True for an admin, or a host or manager of `clubId`. */
export function isStaffOf(principal: Principal, clubId: string): boolean {
  if (principal.roles.includes('admin')) return true;
  const staff = principal.roles.includes('host') || principal.roles.includes('manager');
  return staff && principal.clubIds.includes(clubId);
}

/** True for an admin, or a manager of `clubId`. */
export function isManagerOf(principal: Principal, clubId: string): boolean {
  return principal.roles.includes('admin') || (principal.roles.includes('manager') && principal.clubIds.includes(clubId));
}

/** Passes for staff of the club (see `isStaffOf`); UNAUTHENTICATED or FORBIDDEN otherwise. */
export function requireStaffOf(viewer: Viewer, clubId: string, what: string): Principal {
  const principal = requirePrincipal(viewer);
  if (!isStaffOf(principal, clubId)) throw forbidden(`Only staff of this club may see ${what}`);
  return principal;
}
