import DataLoader from 'dataloader';
import { notFound } from '../errors.js';

/** Ids known to exist kept per topic kind: more than any instance has live nights or vote sessions. */
const KNOWN_KEPT = 100_000;

/**
 * Admits subscribers to topics whose subject must exist (a night, a vote session) with a
 * number of statements that does not grow with the subscribers: lookups that arrive in
 * the same turn of the event loop go to the database as one batch (`findMany`, one
 * statement for any number of ids), a subscriber whose topic is already being looked up
 * waits for that lookup, and an id once found is not looked up again. Nights and vote
 * sessions are never deleted (they are cancelled or closed, which their subscriptions
 * report), so having existed once is enough. A reconnect storm of 10,000 dashboards on
 * one night costs one statement.
 */
export function batchedAdmission(what: string, findMany: (ids: readonly string[]) => Promise<readonly unknown[]>) {
  const known = new Set<string>();
  const inFlight = new Map<string, Promise<boolean>>();
  const lookups = new DataLoader<string, boolean>(
    async (ids) => {
      const found = await findMany(ids);
      return ids.map((_, i) => (found[i] instanceof Error ? (found[i] as Error) : found[i] !== null && found[i] !== undefined));
    },
    { cache: false, batchScheduleFn: (run) => setImmediate(run) },
  );

  return async (id: string): Promise<void> => {
    if (known.has(id)) return;
    let lookup = inFlight.get(id);
    if (!lookup) {
      lookup = lookups.load(id).finally(() => inFlight.delete(id));
      inFlight.set(id, lookup);
    }
    if (!(await lookup)) throw notFound(what, id);
    if (known.size >= KNOWN_KEPT) known.clear();
    known.add(id);
  };
}
