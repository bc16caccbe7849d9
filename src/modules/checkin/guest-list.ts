import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { agents, guestEntries, type Agent, type GuestEntry, type Night } from '../../db/schema.js';
import { badInput, forbidden, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requirePrincipal } from '../../platform/auth.js';
import { isManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import { normalizePhone } from './phone.js';

export interface GuestInput {
  name: string;
  phone?: string | null;
}
export interface AddGuestInput extends GuestInput {
  nightId: string;
  agentCode?: string | null;
}

const MAX_NAME_LENGTH = 200;
/** One call, one transaction: a promoter's list or an import (seed 003's registration). */
export const MAX_GUESTS_PER_CALL = 1_000;

/**
 * Who may add to the night's list, and under which code: a manager of the club may add
 * anyone, with or without a promoter code; anyone else only under their own promoter
 * code for that club. A blank code (an empty form field) means none.
 */
async function listAccess(scope: Scope, nightId: string, agentCode: string | null | undefined): Promise<{ night: Night; agent: Agent | undefined; createdBy: string }> {
  requirePrincipal(scope.viewer);
  const night = isUuid(nightId) ? await scope.loaders.nightById.load(nightId) : null;
  if (!night) throw notFound('Night', nightId);
  const user = await scope.currentUser();
  let agent: Agent | undefined;
  if (agentCode != null && agentCode.trim() !== '') {
    [agent] = await scope.db
      .select()
      .from(agents)
      .where(and(eq(agents.code, agentCode.trim().toUpperCase()), eq(agents.clubId, night.clubId)));
    if (!agent) throw badInput(`No promoter of this club has the code ${JSON.stringify(agentCode)}`);
  }
  if (!(await isManagerOf(scope, night.clubId)) && agent?.userId !== user.id) {
    throw forbidden('Only a manager of the club, or a promoter under their own code, may add guests');
  }
  return { night, agent, createdBy: user.id };
}

/** The entry's name and phone, checked; `where` names the row of a list in errors. */
function validGuest(guest: GuestInput, where = '', details: Record<string, unknown> = {}): { name: string; phone: string | null } {
  const name = guest.name.trim();
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) throw badInput(`${where}name must be 1 to ${MAX_NAME_LENGTH} characters`, details);
  const blank = guest.phone == null || guest.phone.trim() === '';
  const phone = blank ? null : normalizePhone(guest.phone!);
  if (!blank && phone === null) {
    throw badInput(`${where}phone must be 6 to 20 digits, optionally with a leading +, got ${JSON.stringify(guest.phone)}`, details);
  }
  return { name, phone };
}

const newToken = () => randomBytes(16).toString('base64url');

/** Puts a guest on a night's list with a fresh random token for their QR code (see `listAccess`). */
export async function addGuest(scope: Scope, input: AddGuestInput): Promise<GuestEntry> {
  const { night, agent, createdBy } = await listAccess(scope, input.nightId, input.agentCode);
  const guest = validGuest(input);
  const [entry] = await scope.db
    .insert(guestEntries)
    .values({ nightId: night.id, ...guest, agentId: agent?.id ?? null, token: newToken(), createdBy })
    .returning();
  return entry!;
}

/**
 * Puts up to 1,000 guests on a night's list in one statement, one transaction: all or
 * none. A bad row refuses the whole call with BAD_USER_INPUT and the row's index in
 * `extensions.index`. Returns the entries in the order given.
 */
export async function addGuests(scope: Scope, input: { nightId: string; agentCode?: string | null; guests: GuestInput[] }): Promise<GuestEntry[]> {
  const { night, agent, createdBy } = await listAccess(scope, input.nightId, input.agentCode);
  if (input.guests.length === 0 || input.guests.length > MAX_GUESTS_PER_CALL) throw badInput(`guests must list 1 to ${MAX_GUESTS_PER_CALL} guests`);
  const rows = input.guests.map((guest, index) => ({
    nightId: night.id,
    ...validGuest(guest, `guests[${index}]: `, { index }),
    agentId: agent?.id ?? null,
    token: newToken(),
    createdBy,
  }));
  const entries = await scope.db.transaction((tx) => tx.insert(guestEntries).values(rows).returning());
  const byToken = new Map(entries.map((e) => [e.token, e]));
  return rows.map((row) => byToken.get(row.token)!);
}
