import { forbidden } from '../../errors.js';
import type { User } from '../../db/schema.js';
import { staffClubIds } from '../staff/service.js';
import type { Scope } from '../scope.js';

/**
 * How much of a user a viewer may see — one rule for the `User` type, wherever a user is
 * reached from (`me`, `Booking.guest`, `Agent.user`, `Club.staff`, …):
 * - `full`: the user themself, and admins — everything;
 * - `staff`: staff of a club the user is a guest, promoter or staff member of — the
 *   public profile, the subject, and the user's bookings at the clubs the viewer works at
 *   (`clubIds`);
 * - `public`: anyone else — id and display name only.
 */
export type UserView = { kind: 'full' } | { kind: 'staff'; clubIds: string[] } | { kind: 'public' };

export async function viewOf(scope: Scope, user: User): Promise<UserView> {
  if (scope.viewer.kind !== 'user') return { kind: 'public' };
  if ((await scope.currentUser()).id === user.id) return { kind: 'full' };
  const staffAt = await staffClubIds(scope);
  if (staffAt === 'all') return { kind: 'full' };
  if (staffAt.length === 0) return { kind: 'public' };
  const theirs = new Set((await scope.loaders.clubsOfUser.load(user.id)).map((row) => row.clubId));
  return staffAt.some((clubId) => theirs.has(clubId)) ? { kind: 'staff', clubIds: staffAt } : { kind: 'public' };
}

/** The view, when it is at least `staff`; FORBIDDEN (naming `what`) otherwise. */
export async function requireStaffView(scope: Scope, user: User, what: string): Promise<UserView> {
  const view = await viewOf(scope, user);
  if (view.kind === 'public') throw forbidden(`Only the user, and staff of a club they visit, may see their ${what}`);
  return view;
}

/** Passes for the user themself and admins; FORBIDDEN otherwise. */
export async function requireFullView(scope: Scope, user: User, what: string): Promise<void> {
  if ((await viewOf(scope, user)).kind !== 'full') throw forbidden(`Only the user may see their ${what}`);
}
