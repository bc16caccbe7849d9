import type { Night } from '../../db/schema.js';
import { requireManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import type { NightFigures } from './figures.js';

/** The night's report (its club's managers): the final one once the night is over and it was written, else live. */
export async function reportOf(scope: Scope, night: Night): Promise<NightFigures> {
  await requireManagerOf(scope, night.clubId, "see a night's report");
  // The club (its currency) is read only when the figures are computed, not for a cached report.
  return scope.reports.load(night, async () => (await scope.loaders.clubById.load(night.clubId))!);
}
