import { asc, inArray } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { clubs } from '../db/schema.js';
import { demoSubjects } from '../db/seed.js';
import type { TokenService } from '../platform/auth.js';

/**
 * One ready token per role for the demo users: the host works at Neon Basement, the
 * manager at every demo club. Valid for 30 days.
 */
export async function demoTokens(db: Database, tokens: TokenService): Promise<Record<keyof typeof demoSubjects, string>> {
  const demoClubs = await db
    .select({ id: clubs.id, slug: clubs.slug })
    .from(clubs)
    .where(inArray(clubs.slug, ['neon-basement', 'seoul-rooftop', 'vault-moscow']))
    .orderBy(asc(clubs.slug));
  const neon = demoClubs.filter((c) => c.slug === 'neon-basement').map((c) => c.id);
  const all = demoClubs.map((c) => c.id);
  const expiresIn = '30d';
  return {
    guest: await tokens.sign({ subject: demoSubjects.guest, roles: ['guest'], clubIds: [] }, expiresIn),
    host: await tokens.sign({ subject: demoSubjects.host, roles: ['host'], clubIds: neon }, expiresIn),
    manager: await tokens.sign({ subject: demoSubjects.manager, roles: ['manager'], clubIds: all }, expiresIn),
    admin: await tokens.sign({ subject: demoSubjects.admin, roles: ['admin'], clubIds: [] }, expiresIn),
  };
}
