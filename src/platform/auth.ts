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
