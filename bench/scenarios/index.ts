import type { Scenario } from '../scenario.js';
import { dashboard } from './dashboard.js';
import { nightTables } from './night-tables.js';

/** Every scenario, in the order `all` runs them. A new one is a file here plus a line below. */
export const scenarios: readonly Scenario[] = [dashboard, nightTables];
