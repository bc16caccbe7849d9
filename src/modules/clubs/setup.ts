import { eq } from 'drizzle-orm';
import { clubs, type Club } from '../../db/schema.js';
import { badInput, conflict, isUniqueViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requireAdmin, requireManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import { changeFloorPlan } from './floor-plan.js';

const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const MAX_SLUG_LENGTH = 64;
const MAX_NAME_LENGTH = 200;
const currencies = new Set(Intl.supportedValuesOf('currency'));

/** The zone's canonical IANA name; BAD_USER_INPUT for anything that is not a time zone. */
export function ianaZone(zone: string): string {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw badInput(`timezone must be an IANA time zone such as Europe/Berlin, got ${JSON.stringify(zone)}`);
  }
}

function clubName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_NAME_LENGTH) throw badInput(`name must be 1 to ${MAX_NAME_LENGTH} characters`);
  return trimmed;
}

/** A new club (admins). CONFLICT for a slug in use; BAD_USER_INPUT for a bad slug, zone or currency. */
export async function createClub(scope: Scope, input: { slug: string; name: string; timezone: string; currency: string }): Promise<Club> {
  requireAdmin(scope, 'create clubs');
  if (!SLUG.test(input.slug) || input.slug.length > MAX_SLUG_LENGTH) {
    throw badInput(`slug must be lower-case letters and digits joined by single hyphens, at most ${MAX_SLUG_LENGTH} characters`);
  }
  if (!currencies.has(input.currency)) throw badInput(`currency must be an ISO 4217 code such as EUR, got ${JSON.stringify(input.currency)}`);
  const values = { slug: input.slug, name: clubName(input.name), timezone: ianaZone(input.timezone), currency: input.currency };
  try {
    const [club] = await scope.db.insert(clubs).values(values).returning();
    scope.loaders.clubById.prime(club!.id, club!);
    return club!;
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`The slug ${JSON.stringify(input.slug)} is taken`);
    throw error;
  }
}

/** Renames the club or moves it to another time zone (its managers). */
export async function updateClub(scope: Scope, id: string, input: { name?: string | null; timezone?: string | null }): Promise<Club> {
  const club = isUuid(id) ? await scope.loaders.clubById.load(id) : null;
  if (!club) throw notFound('Club', id);
  await requireManagerOf(scope, club.id, 'change the club');
  const changes = {
    ...(input.name == null ? {} : { name: clubName(input.name) }),
    ...(input.timezone == null ? {} : { timezone: ianaZone(input.timezone) }),
  };
  if (Object.keys(changes).length === 0) return club;
  // The name is drawn on every night's plan: upcoming nights redraw.
  const updated = await changeFloorPlan(scope, club.id, async (tx) => (await tx.update(clubs).set(changes).where(eq(clubs.id, club.id)).returning())[0]!);
  scope.loaders.clubById.clear(club.id).prime(club.id, updated);
  return updated;
}
