import type { Scope } from '../modules/scope.js';
import type { SqlStats } from '../platform/sql-stats.js';

/** The GraphQL context: a service scope plus what the transport measures. */
export interface Context extends Scope {
  sqlStats: SqlStats;
  /** Snapshot versions this request's resolvers read, by night: what a cached response depends on. */
  availabilityVersions: Map<string, number>;
  /** Keys of the night reports this request's resolvers served (see NightReports.keyOf), by night. */
  reportKeys: Map<string, { clubId: string; key: string }>;
  /** The client's network address: whose rate budget an anonymous request draws from. */
  clientAddress?: string;
}
