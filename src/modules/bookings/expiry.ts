import { and, eq, lte, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { bookings, nights } from '../../db/schema.js';
import type { Availability } from '../clubs/availability.js';
import { bumpVersion } from '../clubs/service.js';
import { runPeriodically } from '../../platform/periodic.js';
import { releaseExpiredHolds } from './service.js';

const NIGHTS_PER_SWEEP = 100;

/**
 * Releases holds past their expiry, night by night. Every instance may run this at the
 * same time: a night is claimed by locking its row with SKIP LOCKED (the same lock every
 * booking change takes first), so each expiry happens once, in one transaction that also
 * bumps the night's version. Returns the nights it changed, after announcing them.
 */
export async function expireHolds(
  db: Database,
  availability: Availability,
  onError: (error: unknown) => void = (error) => {
    throw error;
  },
): Promise<string[]> {
  const due = await db
    .selectDistinct({ nightId: bookings.nightId })
    .from(bookings)
    .where(and(eq(bookings.status, 'held'), lte(bookings.holdExpiresAt, sql`now()`)))
    .limit(NIGHTS_PER_SWEEP);
  const changed: string[] = [];
  for (const { nightId } of due) {
    try {
      const released = await db.transaction(async (tx) => {
        const [claimed] = await tx.select({ id: nights.id }).from(nights).where(eq(nights.id, nightId)).for('update', { skipLocked: true });
        if (!claimed) return 0;
        const expired = await releaseExpiredHolds(tx, nightId);
        if (expired > 0) await bumpVersion(tx, nightId);
        return expired;
      });
      if (released === 0) continue;
      changed.push(nightId);
      await availability.committed([nightId]);
    } catch (error) {
      // One night's failure must not keep the others' holds.
      onError(error);
    }
  }
  return changed;
}

/** Runs `expireHolds` every `intervalSeconds` until stopped; a tick finding the last run busy is skipped. */
export function startHoldExpiry(
  db: Database,
  availability: Availability,
  intervalSeconds: number,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  return runPeriodically(intervalSeconds, () => expireHolds(db, availability, onError), onError);
}
