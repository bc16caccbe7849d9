import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestScope } from './logger.js';
import type { SqlStats } from './sql-stats.js';

/**
 * What the current unit of work carries through its async calls: the HTTP request being
 * served (for logs and metrics, see logger.ts) and the SQL counter statements are charged
 * to (sql-stats.ts). One AsyncLocalStorage for both: each one enabled costs every promise
 * the process creates a propagation step.
 */
export interface AsyncScope {
  readonly request?: RequestScope | undefined;
  readonly sql?: SqlStats | undefined;
}

const storage = new AsyncLocalStorage<AsyncScope>();

/** The scope of this async context, if any. */
export function currentScope(): AsyncScope | undefined {
  return storage.getStore();
}

/** Runs `fn` in this async context's scope with `change` applied to it. */
export function withScope<T>(change: AsyncScope, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...change }, fn);
}
