import type { Scope } from '../modules/scope.js';
import type { SqlStats } from '../platform/sql-stats.js';

/** The GraphQL context: a service scope plus what the transport measures. */
export interface Context extends Scope {
  sqlStats: SqlStats;
}
