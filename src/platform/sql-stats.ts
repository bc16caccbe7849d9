import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

/** What one request (or any other unit of work) asked of the database. */
export interface SqlStats {
  statements: number;
  durationMs: number;
}

const storage = new AsyncLocalStorage<SqlStats>();
type StatementObserver = (durationMs: number) => void;
const observers = new Set<StatementObserver>();

export function newSqlStats(): SqlStats {
  return { statements: 0, durationMs: 0 };
}

/** Runs `fn` with `stats` as the counter: every statement sent inside it, however deep, is counted. */
export function countSqlIn<T>(stats: SqlStats, fn: () => T): T {
  return storage.run(stats, fn);
}

/** Tells `fn` the duration of every statement sent in this process until the returned function is called. */
export function observeStatements(fn: StatementObserver): () => void {
  observers.add(fn);
  return () => observers.delete(fn);
}

/**
 * Counts a statement when it is sent and adds its round-trip time when it settles.
 * The counter is the one of the async context that sent it, so concurrent requests
 * never see each other's statements.
 */
export function timeStatement<T>(run: () => PromiseLike<T>): Promise<T> {
  const stats = storage.getStore();
  if (stats) stats.statements += 1;
  const started = performance.now();
  const settle = () => {
    const elapsed = performance.now() - started;
    if (stats) stats.durationMs += elapsed;
    for (const observe of observers) observe(elapsed);
  };
  return Promise.resolve(run()).then(
    (value) => {
      settle();
      return value;
    },
    (error: unknown) => {
      settle();
      throw error;
    },
  );
}
