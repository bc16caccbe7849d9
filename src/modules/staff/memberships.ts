import type { Database } from '../../db/client.js';
import { nextChangeVersion } from '../../db/change-version.js';
import type { VersionedStore } from '../../platform/versioned-store.js';
import type { Membership } from './loaders.js';

const COUNTER_TTL_SECONDS = 24 * 3600;
/** A subject's memberships kept here at most this long, whatever the counters say. */
const LOCAL_TTL_MS = 60_000;
const SUBJECTS_KEPT = 10_000;
const counterKey = (subject: string) => `staff-version:${subject}`;

export interface Memberships {
  /** Each subject's memberships (removed ones too), current as of every change that answered before this call. */
  load(subjects: readonly string[], select: (subjects: string[]) => Promise<Membership[]>): Promise<Membership[][]>;
  /**
   * After a change of the subject's memberships committed, before the caller answers:
   * raises the subject's counter in the shared store, so every instance reads them again
   * on its next request. Never throws: the change is committed.
   */
  changed(subject: string): Promise<void>;
}

/**
 * Staff memberships kept per instance and checked against a counter per subject in the
 * shared store (O(1), no PostgreSQL) on every request: a request by a staff member costs
 * no statement for their memberships while they are unchanged, and a change (addStaff,
 * removeStaff) raises the counter to a version from the database's sequence before it
 * answers, so every instance reads the memberships again on the subject's next request.
 * Counters the store cannot answer (Redis away, nothing raised here) mean PostgreSQL.
 */
export function createMemberships(db: Database, store: VersionedStore, onError: (error: unknown) => void): Memberships {
  const kept = new Map<string, { version: number; rows: Membership[]; until: number }>();
  return {
    async load(subjects, select) {
      const counters = await store.counters(subjects.map(counterKey));
      const now = Date.now();
      const result = subjects.map((subject, i) => {
        const entry = kept.get(subject);
        return entry && counters[i] !== null && entry.version === counters[i] && entry.until > now ? entry.rows : null;
      });
      const missing = subjects.filter((_, i) => result[i] === null);
      if (missing.length === 0) return result as Membership[][];
      const rows = await select(missing);
      for (const subject of missing) {
        const i = subjects.indexOf(subject);
        const mine = rows.filter((m) => m.subject === subject);
        result[i] = mine;
        // Kept under the counter read before the statement: a change it did not see raised it since.
        const version = counters[i];
        if (version === null || version === undefined) continue;
        kept.delete(subject);
        if (kept.size >= SUBJECTS_KEPT) kept.delete(kept.keys().next().value!);
        kept.set(subject, { version, rows: mine, until: now + LOCAL_TTL_MS });
      }
      return result as Membership[][];
    },
    async changed(subject) {
      kept.delete(subject);
      try {
        await store.raise(counterKey(subject), await nextChangeVersion(db), COUNTER_TTL_SECONDS);
      } catch (error) {
        onError(error);
      }
    },
  };
}
