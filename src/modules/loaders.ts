import type { Database } from '../db/client.js';
import type { BatchOptions } from '../graphql/batch.js';
import { createBookingLoaders } from './bookings/loaders.js';
import type { Availability } from './clubs/availability.js';
import { createCheckinLoaders } from './checkin/loaders.js';
import { createClubLoaders } from './clubs/loaders.js';
import { createNotificationLoaders } from './notifications/loaders.js';
import { createSessionLoaders } from './sessions/loaders.js';
import { createStaffLoaders } from './staff/loaders.js';
import { createStreamerLoaders } from './streamers/loaders.js';
import { createUserLoaders } from './users/loaders.js';
import { createVotingLoaders } from './voting/loaders.js';
import type { VoteResultsStore } from './voting/results-store.js';

/** Every DataLoader of one request. Built per request: loaders memoize within it only. */
export function createLoaders(db: Database, options: BatchOptions, availability: Availability, voteResults: VoteResultsStore) {
  const clubLoaders = createClubLoaders(db, options, availability);
  return {
    ...clubLoaders,
    ...createBookingLoaders(db, options),
    ...createCheckinLoaders(db, options),
    ...createSessionLoaders(db, options),
    ...createStaffLoaders(db, options),
    ...createStreamerLoaders(db, options),
    ...createVotingLoaders(db, options, voteResults),
    ...createUserLoaders(db, options),
    ...createNotificationLoaders(db, options),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
