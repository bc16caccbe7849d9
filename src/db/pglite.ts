import type { PGlite, Transaction as PgliteTransaction } from '@electric-sql/pglite';
import { answeredWhenSettled, statementSent, timeStatement } from '../platform/sql-stats.js';

/**
 * Counts and times every statement sent through `client`: Drizzle's (`query`, `exec`),
 * and those PGlite sends itself for a transaction — BEGIN, then COMMIT, or ROLLBACK when
 * the callback fails or calls `rollback()`. Drizzle sends a nested transaction's
 * SAVEPOINT and RELEASE (or ROLLBACK TO) through `query`, counted with the rest.
 */
export function instrumentPglite<C extends PGlite | PgliteTransaction>(client: C, running?: { count: number }): C {
  const counted = <T>(work: () => Promise<T>): Promise<T> => {
    if (!running) return work();
    running.count += 1;
    return work().finally(() => {
      running.count -= 1;
    });
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'query' || property === 'exec') {
        const original = Reflect.get(target, property, receiver) as (...a: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) =>
          counted(() => timeStatement(() => original.apply(target, args), typeof args[0] === 'string' ? args[0] : undefined));
      }
      const value = Reflect.get(target, property, receiver);
      if (property === 'rollback' && typeof value === 'function') {
        return () => timeStatement(() => (value as () => Promise<void>).call(target), 'ROLLBACK');
      }
      if (property === 'transaction') {
        const original = (target as PGlite).transaction.bind(target);
        return (callback: (tx: PgliteTransaction) => Promise<unknown>) =>
          counted(() => {
            // Counted when asked for: PGlite may first finish a transaction running before it.
            const begun = statementSent('BEGIN');
            let ended: (() => void) | undefined;
            const sent = original(async (tx) => {
              begun();
              try {
                const result = await callback(instrumentPglite(tx));
                if (!tx.closed) ended = statementSent('COMMIT');
                return result;
              } catch (error) {
                if (!tx.closed) ended = statementSent('ROLLBACK');
                throw error;
              }
            });
            answeredWhenSettled(sent, begun, () => ended);
            return sent;
          });
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
