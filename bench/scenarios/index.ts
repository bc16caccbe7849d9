import type { Scenario } from '../scenario.js';
import { availability } from './availability.js';
import { availabilityStorm } from './availability-storm.js';
import { campaignDrain } from './campaign-drain.js';
import { checkinBurst } from './checkin-burst.js';
import { dashboard } from './dashboard.js';
import { failFast } from './fail-fast.js';
import { fanout } from './fanout.js';
import { nightBookings } from './night-bookings.js';
import { nightReport } from './night-report.js';
import { nightTables } from './night-tables.js';
import { tableOps } from './table-ops.js';
import { telegramDrain } from './telegram-drain.js';
import { musicUpload } from './music-upload.js';
import { trackedDashboard } from './tracked-dashboard.js';
import { voteBurst } from './vote-burst.js';
import { voteResults } from './vote-results.js';

/** Every scenario, in the order `all` runs them. A new one is a file here plus a line below. */
export const scenarios: readonly Scenario[] = [dashboard, nightTables, tableOps, availability, availabilityStorm, checkinBurst, nightBookings, nightReport, fanout, voteResults, voteBurst, trackedDashboard, campaignDrain, telegramDrain, musicUpload, failFast];
