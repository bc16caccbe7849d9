import type { Database } from '../db/client.js';
import type { User } from '../db/schema.js';
import type { Viewer } from '../platform/auth.js';
import type { SnapshotFeed } from '../platform/snapshot-feed.js';
import type { AvailabilitySnapshot } from './clubs/availability.js';
import type { Availability } from './clubs/availability.js';
import type { Loaders } from './loaders.js';
import type { NotificationHub } from './notifications/hub.js';
import type { NightReports } from './reports/store.js';
import type { Memberships } from './staff/memberships.js';
import type { SyncSettings } from './streamers/sync.js';
import type { TelegramChannel } from './telegram/channel.js';
import type { VoteResultsStore } from './voting/results-store.js';
import type { MediaServices } from './music/media.js';

/**
 * What a service call runs with: the database, who is asking, and this request's loaders.
 * Built once per request (or per subscription event); services never see GraphQL.
 */
export interface Scope {
  db: Database;
  viewer: Viewer;
  loaders: Loaders;
  /** The signed-in caller's user row, created on a token's first use. UNAUTHENTICATED otherwise. */
  currentUser(): Promise<User>;
  availability: Availability;
  /** This instance's live view of availability, for subscriptions. */
  availabilityFeed: SnapshotFeed<AvailabilitySnapshot>;
  /** Vote results cached per session; writers tell it after each commit. */
  voteResults: VoteResultsStore;
  /** Staff memberships kept per instance; writers tell it after each change. */
  memberships: Memberships;
  /** Night reports: final ones from PostgreSQL, live ones from the shared cache. */
  reports: NightReports;
  /** Wakes outbox workers after a commit; a user's live notifications. */
  notifications: NotificationHub;
  settings: { holdTtlSeconds: number; wishlistSync: SyncSettings };
  /** Songs' audio files: storage, signed URLs and upload bounds. */
  media: MediaServices;
  /** The bot, when Telegram is configured. */
  telegram: TelegramChannel | undefined;
}
