import type { Booking, Night, User } from '../../db/schema.js';
import { badInput } from '../../errors.js';
import { toConnection, type PageRequest } from '../../graphql/pagination.js';
import { requireStaffOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import { requireStaffView } from '../users/visibility.js';
import type { BookingsWhen, NightBookingsFilter } from './loaders.js';

const MAX_SEARCH_LENGTH = 100;

/**
 * The user's bookings: ALL newest booking first; UPCOMING (nights not over) soonest
 * night first; PAST latest night first. Keyset pages, one statement for any number of
 * users. What the viewer may see of them is the `User` rule (users/visibility.ts): all of
 * them for the user and admins, those at the viewer's clubs for staff of a club the user
 * visits, none (FORBIDDEN) for anyone else.
 */
export async function bookingsOf(scope: Scope, user: User, when: BookingsWhen, page: PageRequest) {
  const view = await requireStaffView(scope, user, 'bookings');
  const clubs = view.kind === 'staff' ? view.clubIds.join(',') : '';
  if (when === 'ALL') {
    const rows = await scope.loaders.bookingsByUser.load({ parentId: user.id, page, filter: clubs || null });
    return toConnection(rows, page, (b) => [b.createdAt.toISOString(), b.id]);
  }
  const rows = await scope.loaders.bookingsByUserAndNight.load({ parentId: user.id, page, filter: `${when}|${clubs}` });
  return toConnection(rows, page, (r) => [r.startsAt.toISOString(), r.booking.id], (r) => r.booking);
}

/**
 * Who booked which table of the night (staff of its club), newest first: optionally only
 * some statuses, and `search` in the guest's display name or subject (any case).
 */
export async function bookingsOfNight(scope: Scope, night: Night, filter: NightBookingsFilter, page: PageRequest) {
  await requireStaffOf(scope, night.clubId, "a night's bookings");
  const search = filter.search?.trim() || null;
  if (search !== null && search.length > MAX_SEARCH_LENGTH) throw badInput(`search must be at most ${MAX_SEARCH_LENGTH} characters`);
  const key = JSON.stringify({ statuses: [...filter.statuses].sort(), search } satisfies NightBookingsFilter);
  const rows = await scope.loaders.bookingsByNight.load({ parentId: night.id, page, filter: key });
  for (const row of rows) scope.loaders.userById.prime(row.guest.id, row.guest);
  return toConnection(rows, page, (r) => [r.booking.createdAt.toISOString(), r.booking.id], (r) => r.booking);
}

/** The guest of a booking, as its public profile (what else a viewer may see of a user is decided in users). */
export async function guestOf(scope: Scope, booking: Booking): Promise<User> {
  return (await scope.loaders.userById.load(booking.userId))!;
}

/** Whether the booking was checked in at the door. */
export async function isCheckedIn(scope: Scope, booking: Booking): Promise<boolean> {
  return (await scope.loaders.checkInByBooking.load(booking.id)) !== null;
}
