// The whole data model, one file per domain; drizzle-kit generates migrations from here.
export * from './schema/users.js';
export * from './schema/clubs.js';
export * from './schema/staff.js';
export * from './schema/bookings.js';
export * from './schema/sessions.js';
export * from './schema/checkin.js';
export * from './schema/voting.js';
export * from './schema/streamers.js';
export * from './schema/notifications.js';
export * from './schema/outbox.js';
export * from './schema/telegram.js';
export * from './schema/reports.js';
export * from './schema/music.js';
