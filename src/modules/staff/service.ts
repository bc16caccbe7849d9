import { and, eq, isNull, sql } from 'drizzle-orm';
import { clubStaff, type StaffRole } from '../../db/schema.js';
import { badInput, forbidden, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requirePrincipal, tokenRoleAt, type Principal } from '../../platform/auth.js';
import type { Scope } from '../scope.js';
import { ensureUser } from '../users/service.js';
import type { StaffMemberRow } from './loaders.js';

/** What a caller is at a club; admins are everything everywhere. */
export type ClubRole = 'admin' | 'manager' | 'host';

/**
 * The caller's role at the club, from club_staff or the token: an active membership
 * gives its role; a removal recorded after the token was issued refuses what the token
 * says about this club (so a removed host loses access on the next request, on every
 * instance); otherwise the token's roles and clubIds decide, for deployments whose
 * identity provider manages staff. The memberships cost one statement per request.
 */
export async function roleAt(scope: Scope, clubId: string): Promise<ClubRole | null> {
  if (scope.viewer.kind !== 'user') return null;
  const { principal, issuedAtMs } = scope.viewer;
  if (principal.roles.includes('admin')) return 'admin';
  const memberships = await scope.loaders.membershipsBySubject.load(principal.subject);
  const membership = memberships.find((m) => m.clubId === clubId);
  if (membership && membership.removedAt === null) {
    const fromToken = tokenRoleAt(principal, clubId);
    return fromToken === 'manager' ? 'manager' : membership.role;
  }
  // Tokens carry whole seconds: a removal in the token's own second outweighs it too.
  if (membership?.removedAt && membership.removedAt.getTime() >= (issuedAtMs ?? -Infinity)) return null;
  return tokenRoleAt(principal, clubId);
}

/**
 * Every club the caller is staff of (see `roleAt`), or 'all' for an admin; [] for
 * anonymous callers and guests. One statement per request, the same as `roleAt`'s.
 */
export async function staffClubIds(scope: Scope): Promise<string[] | 'all'> {
  if (scope.viewer.kind !== 'user') return [];
  const { principal } = scope.viewer;
  if (principal.roles.includes('admin')) return 'all';
  const memberships = await scope.loaders.membershipsBySubject.load(principal.subject);
  const candidates = new Set([...memberships.map((m) => m.clubId), ...principal.clubIds]);
  const clubs: string[] = [];
  for (const clubId of candidates) if ((await roleAt(scope, clubId)) !== null) clubs.push(clubId);
  return clubs.sort();
}

/** Staff of the club: a host, a manager, or an admin. */
export async function isStaffOf(scope: Scope, clubId: string): Promise<boolean> {
  return (await roleAt(scope, clubId)) !== null;
}

/** A manager of the club, or an admin. */
export async function isManagerOf(scope: Scope, clubId: string): Promise<boolean> {
  const role = await roleAt(scope, clubId);
  return role === 'manager' || role === 'admin';
}

/** The caller, when staff of the club; UNAUTHENTICATED or FORBIDDEN (naming `what`) otherwise. */
export async function requireStaffOf(scope: Scope, clubId: string, what: string): Promise<Principal> {
  const principal = requirePrincipal(scope.viewer);
  if (!(await isStaffOf(scope, clubId))) throw forbidden(`Only staff of this club may see ${what}`);
  return principal;
}

/** The caller, when a manager of the club; UNAUTHENTICATED or FORBIDDEN otherwise (`what` they may not do). */
export async function requireManagerOf(scope: Scope, clubId: string, what: string): Promise<Principal> {
  const principal = requirePrincipal(scope.viewer);
  if (!(await isManagerOf(scope, clubId))) throw forbidden(`Only a manager of the club may ${what}`);
  return principal;
}

/** The caller, when an admin; UNAUTHENTICATED or FORBIDDEN otherwise. */
export function requireAdmin(scope: Scope, what: string): Principal {
  const principal = requirePrincipal(scope.viewer);
  if (!principal.roles.includes('admin')) throw forbidden(`Only admins may ${what}`);
  return principal;
}

const MAX_SUBJECT_LENGTH = 200;

async function clubToManage(scope: Scope, clubId: string, what: string) {
  requirePrincipal(scope.viewer);
  const club = isUuid(clubId) ? await scope.loaders.clubById.load(clubId) : null;
  if (!club) throw notFound('Club', clubId);
  await requireManagerOf(scope, club.id, what);
  return club;
}

function validSubject(subject: string): string {
  const trimmed = subject.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_SUBJECT_LENGTH) throw badInput(`subject must be 1 to ${MAX_SUBJECT_LENGTH} characters`);
  return trimmed;
}

/**
 * Makes the token subject a host or manager of the club (its managers); the user row is
 * created if the subject never signed in. Adding someone again changes their role, and
 * brings back a removed member.
 */
export async function addStaff(scope: Scope, input: { clubId: string; subject: string; role: StaffRole }): Promise<StaffMemberRow> {
  const club = await clubToManage(scope, input.clubId, 'add staff');
  const subject = validSubject(input.subject);
  const [by, user] = await Promise.all([scope.currentUser(), ensureUser(scope.db, subject)]);
  const [row] = await scope.db
    .insert(clubStaff)
    .values({ clubId: club.id, userId: user.id, role: input.role, addedBy: by.id })
    .onConflictDoUpdate({
      target: [clubStaff.clubId, clubStaff.userId],
      set: { role: input.role, addedBy: by.id, removedAt: null, addedAt: sql`case when ${clubStaff.removedAt} is null then ${clubStaff.addedAt} else now() end` },
    })
    .returning();
  await scope.memberships.changed(subject);
  scope.loaders.membershipsBySubject.clear(subject);
  scope.loaders.staffByClub.clear(club.id);
  return { clubId: club.id, role: row!.role, addedAt: row!.addedAt, user };
}

/**
 * Ends the subject's membership of the club (its managers): from their next request on,
 * on every instance, they are not staff of it — neither by the membership nor by a token
 * issued before now that names the club. True if they had a membership to end.
 */
export async function removeStaff(scope: Scope, clubId: string, subject: string): Promise<boolean> {
  const club = await clubToManage(scope, clubId, 'remove staff');
  const user = await ensureUser(scope.db, validSubject(subject));
  const ended = await scope.db
    .update(clubStaff)
    .set({ removedAt: sql`now()` })
    .where(and(eq(clubStaff.clubId, club.id), eq(clubStaff.userId, user.id), isNull(clubStaff.removedAt)))
    .returning({ userId: clubStaff.userId });
  // No membership: keep a removal anyway, so a token naming the club no longer counts.
  if (ended.length === 0) {
    await scope.db.insert(clubStaff).values({ clubId: club.id, userId: user.id, role: 'host', removedAt: sql`now()` }).onConflictDoNothing();
  }
  await scope.memberships.changed(user.subject);
  scope.loaders.membershipsBySubject.clear(user.subject);
  scope.loaders.staffByClub.clear(club.id);
  return ended.length > 0;
}

/** The club's hosts and managers kept here, earliest added first (its managers). */
export async function staffOf(scope: Scope, clubId: string): Promise<StaffMemberRow[]> {
  await requireManagerOf(scope, clubId, "see the club's staff");
  return scope.loaders.staffByClub.load(clubId);
}
