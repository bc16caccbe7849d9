import type { Night } from '../../db/schema.js';
import { forbidden } from '../../errors.js';
import { requirePrincipal } from '../../platform/auth.js';
import { isManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import type { ServedReport } from './store.js';

/**
 * The night's report (its club's managers): the final one once the night is over and it
 * was written, else live; with the key it is valid under, for the response cache.
 */
export async function reportOf(scope: Scope, night: Night): Promise<ServedReport> {
  requirePrincipal(scope.viewer);
  if (!(await mayReadReports(scope, night.clubId))) throw forbidden("Only a manager of the club may see a night's report");
  // The club (its currency) is read only when the figures are computed, not for a cached report.
  return scope.reports.load(night, async () => (await scope.loaders.clubById.load(night.clubId))!);
}

/**
 * Whether the caller may read reports of the club's nights: the rule `reportOf` applies,
 * for answers served from the response cache without running GraphQL.
 */
export function mayReadReports(scope: Scope, clubId: string): Promise<boolean> {
  return isManagerOf(scope, clubId);
}
