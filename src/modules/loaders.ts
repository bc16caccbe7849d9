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
import { createTelegramLoaders } from './telegram/loaders.js';
import { createUserLoaders } from './users/loaders.js';
import { createVotingLoaders } from './voting/loaders.js';
import { createMusicLoaders } from './music/loaders.js';
import type { Memberships } from './staff/memberships.js';
import type { VoteResultsStore } from './voting/results-store.js';

export interface LoaderDeps {
  db: Database;
  options: BatchOptions;
  availability: Availability;
  voteResults: VoteResultsStore;
  memberships: Memberships;
}

/** Each module's loaders, built together when the first of them is used. */
const groups = [
  (d: LoaderDeps) => createClubLoaders(d.db, d.options, d.availability),
  (d: LoaderDeps) => createBookingLoaders(d.db, d.options),
  (d: LoaderDeps) => createCheckinLoaders(d.db, d.options),
  (d: LoaderDeps) => createSessionLoaders(d.db, d.options),
  (d: LoaderDeps) => createStaffLoaders(d.db, d.options, d.memberships),
  (d: LoaderDeps) => createStreamerLoaders(d.db, d.options),
  (d: LoaderDeps) => createVotingLoaders(d.db, d.options, d.voteResults),
  (d: LoaderDeps) => createUserLoaders(d.db, d.options),
  (d: LoaderDeps) => createNotificationLoaders(d.db, d.options),
  (d: LoaderDeps) => createTelegramLoaders(d.db, d.options),
  (d: LoaderDeps) => createMusicLoaders(d.db, d.options),
] as const;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
export type Loaders = UnionToIntersection<ReturnType<(typeof groups)[number]>>;

interface LazyLoaders {
  deps: LoaderDeps;
  built: (Record<string, unknown> | undefined)[];
}

/**
 * A getter per loader name, shared by every request's loaders: the first use of a loader
 * builds its module's group for that request. Learnt from the first request's groups.
 */
let shared: object | undefined;

function prototypeFrom(built: Record<string, unknown>[]): object {
  const prototype = {};
  built.forEach((group, i) => {
    for (const name of Object.keys(group)) {
      Object.defineProperty(prototype, name, {
        get(this: LazyLoaders) {
          const loaders = (this.built[i] ??= groups[i]!(this.deps) as Record<string, unknown>);
          return loaders[name];
        },
        enumerable: true,
      });
    }
  });
  return prototype;
}

/**
 * Every DataLoader of one request. Built per request — loaders memoize within it only —
 * and lazily: a request builds only the modules' loaders it uses (a report served from the
 * response cache uses the staff loaders alone), not all of them.
 */
export function createLoaders(deps: LoaderDeps): Loaders {
  if (!shared) {
    const built = groups.map((group) => group(deps) as Record<string, unknown>);
    shared = prototypeFrom(built);
    return Object.assign(Object.create(shared) as LazyLoaders, { deps, built }) as unknown as Loaders;
  }
  return Object.assign(Object.create(shared) as LazyLoaders, { deps, built: [] }) as unknown as Loaders;
}
