import { aliasedTable, and, asc, eq, gt, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { anyId } from '../../db/any.js';
import { bookings, clubs, nights, tables, type Table } from '../../db/schema.js';
import { badInput, conflict, isUniqueViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requireManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import { announceAvailability } from './service.js';

export interface TableFields {
  label: string;
  capacity: number;
  minDepositMinor: number;
  zone: string | null;
  x: number;
  y: number;
  width: number;
  height: number;
}
type Placement = Pick<TableFields, 'x' | 'y' | 'width' | 'height'>;

const MAX_LABEL_LENGTH = 20;
const MAX_ZONE_LENGTH = 50;
const MAX_TABLES_PER_ARRANGE = 500;

function validFields(fields: Partial<TableFields>): Partial<TableFields> {
  const out: Partial<TableFields> = { ...fields };
  if (fields.label !== undefined) {
    out.label = fields.label.trim();
    if (out.label.length === 0 || out.label.length > MAX_LABEL_LENGTH) throw badInput(`label must be 1 to ${MAX_LABEL_LENGTH} characters`);
  }
  if (fields.capacity !== undefined && (fields.capacity < 1 || fields.capacity > 100)) throw badInput('capacity must be 1 to 100');
  if (fields.minDepositMinor !== undefined && fields.minDepositMinor < 0) throw badInput('minDepositMinor must be zero or more');
  if (fields.zone != null) {
    out.zone = fields.zone.trim() || null;
    if (out.zone !== null && out.zone.length > MAX_ZONE_LENGTH) throw badInput(`zone must be at most ${MAX_ZONE_LENGTH} characters`);
  }
  validPlacement(fields);
  return out;
}

function validPlacement(p: Partial<Placement>, where = ''): void {
  if ((p.x !== undefined && p.x < 0) || (p.y !== undefined && p.y < 0)) throw badInput(`${where}x and y must be zero or more`);
  if ((p.width !== undefined && (p.width < 1 || p.width > 100)) || (p.height !== undefined && (p.height < 1 || p.height > 100))) {
    throw badInput(`${where}width and height must be 1 to 100`);
  }
}

/**
 * Locks the club's floor plan for one change: the club row (floor-plan changes of a club
 * take turns, so the overlap check below sees every earlier one), then the club's
 * upcoming nights — before any table row, in the order a hold takes them (night, then
 * table), so a floor-plan change and a hold never deadlock. Returns those nights.
 */
async function lockFloorPlan(tx: Tx, clubId: string): Promise<string[]> {
  await tx.select({ id: clubs.id }).from(clubs).where(eq(clubs.id, clubId)).for('update');
  const upcoming = await tx
    .select({ id: nights.id })
    .from(nights)
    .where(and(eq(nights.clubId, clubId), eq(nights.status, 'scheduled'), gt(nights.endsAt, sql`now()`)))
    .orderBy(asc(nights.id))
    .for('update');
  return upcoming.map((n) => n.id);
}

/** Every upcoming night shows the new plan: their versions move in the same transaction. */
async function bumpNights(tx: Tx, nightIds: string[]): Promise<void> {
  if (nightIds.length === 0) return;
  await tx
    .update(nights)
    .set({ availabilityVersion: sql`${nights.availabilityVersion} + 1` })
    .where(anyId(nights.id, nightIds));
}

/** BAD_USER_INPUT naming the first two tables of the club on the plan that overlap. */
async function refuseOverlaps(tx: Tx, clubId: string): Promise<void> {
  const other = aliasedTable(tables, 'other');
  const [pair] = await tx
    .select({ a: tables.label, b: other.label })
    .from(tables)
    .innerJoin(
      other,
      and(
        eq(other.clubId, tables.clubId),
        lt(tables.id, other.id),
        isNull(other.retiredAt),
        sql`${tables.x} < ${other.x} + ${other.width} and ${other.x} < ${tables.x} + ${tables.width}`,
        sql`${tables.y} < ${other.y} + ${other.height} and ${other.y} < ${tables.y} + ${tables.height}`,
      ),
    )
    .where(and(eq(tables.clubId, clubId), isNull(tables.retiredAt)))
    .orderBy(asc(tables.label), asc(other.label))
    .limit(1);
  if (pair) {
    const [a, b] = [pair.a, pair.b].sort();
    throw badInput(`Tables ${a} and ${b} overlap on the floor plan`, { tables: [a, b] });
  }
}

/**
 * Runs a change of what the club's nights show (its floor plan, its name on the plan) in
 * one transaction that bumps every upcoming night's version, then announces them.
 */
export async function changeFloorPlan<T>(scope: Scope, clubId: string, change: (tx: Tx) => Promise<T>): Promise<T> {
  let redrawn: string[] = [];
  let result: T;
  try {
    result = await scope.db.transaction(async (tx) => {
      redrawn = await lockFloorPlan(tx, clubId);
      const value = await change(tx);
      await refuseOverlaps(tx, clubId);
      await bumpNights(tx, redrawn);
      return value;
    });
  } catch (error) {
    if (isUniqueViolation(error, 'tables_club_label_key')) throw conflict('Another table of the club has this label');
    throw error;
  }
  scope.loaders.tablesByClub.clear(clubId);
  await Promise.all(redrawn.map((id) => announceAvailability(scope, id)));
  return result;
}

async function tableToManage(scope: Scope, id: string): Promise<Table> {
  const table = isUuid(id) ? await scope.loaders.tableById.load(id) : null;
  if (!table) throw notFound('Table', id);
  await requireManagerOf(scope, table.clubId, 'change the floor plan');
  return table;
}

/** Adds a table to the club's plan (its managers). CONFLICT for a label in use; BAD_USER_INPUT for an overlap. */
export async function createTable(scope: Scope, input: TableFields & { clubId: string }): Promise<Table> {
  const club = isUuid(input.clubId) ? await scope.loaders.clubById.load(input.clubId) : null;
  if (!club) throw notFound('Club', input.clubId);
  await requireManagerOf(scope, club.id, 'change the floor plan');
  const { clubId: _clubId, ...fields } = input;
  const values = validFields(fields) as TableFields;
  const table = await changeFloorPlan(scope, club.id, async (tx) => (await tx.insert(tables).values({ ...values, clubId: club.id }).returning())[0]!);
  scope.loaders.tableById.prime(table.id, table);
  return table;
}

/** Changes any of a table's fields (its club's managers). A retired table cannot change. */
export async function updateTable(scope: Scope, id: string, input: Partial<TableFields>): Promise<Table> {
  const table = await tableToManage(scope, id);
  if (table.retiredAt) throw badInput(`Table ${table.label} is retired`);
  // null leaves a field as it is, except the zone, which it clears.
  const given = Object.entries(input).filter(([field, value]) => value !== undefined && (value !== null || field === 'zone'));
  const changes = validFields(Object.fromEntries(given) as Partial<TableFields>);
  if (Object.keys(changes).length === 0) return table;
  const updated = await changeFloorPlan(scope, table.clubId, async (tx) => (await tx.update(tables).set(changes).where(eq(tables.id, table.id)).returning())[0]!);
  scope.loaders.tableById.clear(id).prime(id, updated);
  return updated;
}

/**
 * Saves the floor-plan editor: every moved table of the club in one transaction (its
 * managers). The plan must hold no overlap once all moves are applied, so tables may
 * swap places in one call.
 */
export async function arrangeTables(scope: Scope, clubId: string, moves: ({ id: string } & Placement)[]): Promise<Table[]> {
  const club = isUuid(clubId) ? await scope.loaders.clubById.load(clubId) : null;
  if (!club) throw notFound('Club', clubId);
  await requireManagerOf(scope, club.id, 'change the floor plan');
  if (moves.length === 0 || moves.length > MAX_TABLES_PER_ARRANGE) throw badInput(`tables must list 1 to ${MAX_TABLES_PER_ARRANGE} tables`);
  const ids = moves.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw badInput('tables lists a table twice');
  moves.forEach((move, i) => validPlacement(move, `tables[${i}]: `));
  const bad = ids.find((id) => !isUuid(id));
  if (bad) throw badInput(`Table ${JSON.stringify(bad)} is not a table of this club`);
  const arranged = await changeFloorPlan(scope, club.id, async (tx) => {
    const found = await tx.select().from(tables).where(and(inArray(tables.id, ids), eq(tables.clubId, club.id)));
    const known = new Map(found.map((t) => [t.id, t]));
    const missing = ids.find((id) => !known.has(id));
    if (missing) throw badInput(`Table ${JSON.stringify(missing)} is not a table of this club`);
    const retired = found.find((t) => t.retiredAt);
    if (retired) throw badInput(`Table ${retired.label} is retired`);
    const rows: Table[] = [];
    for (const { id, ...placement } of moves) rows.push((await tx.update(tables).set(placement).where(eq(tables.id, id)).returning())[0]!);
    return rows;
  });
  for (const row of arranged) scope.loaders.tableById.clear(row.id).prime(row.id, row);
  return arranged;
}

/**
 * Takes a table off the plan (its club's managers): no new bookings, gone from the plan
 * of nights that start later; its bookings, sessions and deposits stay. CONFLICT, with
 * the bookings' ids, while it has a held or confirmed booking on a night not yet over.
 * Retiring twice is harmless.
 */
export async function retireTable(scope: Scope, id: string): Promise<Table> {
  const table = await tableToManage(scope, id);
  if (table.retiredAt) return table;
  const retired = await changeFloorPlan(scope, table.clubId, async (tx) => {
    // A hold of this table locks its night, then the table (FOR SHARE): this waits for it, or it for this.
    const [current] = await tx.select().from(tables).where(eq(tables.id, table.id)).for('update');
    if (current!.retiredAt) return current!;
    const live = await tx
      .select({ id: bookings.id })
      .from(bookings)
      .innerJoin(nights, eq(nights.id, bookings.nightId))
      .where(and(eq(bookings.tableId, table.id), inArray(bookings.status, ['held', 'confirmed']), gt(nights.endsAt, sql`now()`)))
      .orderBy(asc(bookings.createdAt));
    if (live.length > 0) {
      throw conflict(`Table ${table.label} has ${live.length} live booking(s) on nights to come`, { bookingIds: live.map((b) => b.id) });
    }
    return (await tx.update(tables).set({ retiredAt: sql`now()` }).where(eq(tables.id, table.id)).returning())[0]!;
  });
  scope.loaders.tableById.clear(id).prime(id, retired);
  return retired;
}
