// `npm run migrate` (compiled: `node dist/cli/migrate.js`): applies pending migrations to
// DATABASE_URL (or the embedded database under DATA_DIR) and exits — the one-shot step a
// deployment runs before starting servers with MIGRATE_ON_START=false.
import { performance } from 'node:perf_hooks';
import { loadDatabaseConfig } from '../config.js';
import { openDatabase } from '../db/client.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { createLogger } from '../platform/logger.js';

const { database, logLevel } = loadDatabaseConfig();
const logger = createLogger(logLevel);
const started = performance.now();
const handle = await openDatabase(database, { logger });
try {
  const pending = await pendingMigrations(handle);
  await migrate(handle);
  logger.info({ applied: pending, database: handle.kind, ms: Math.round(performance.now() - started) }, pending > 0 ? 'migrations applied' : 'the database is up to date');
} catch (error) {
  logger.error({ err: error }, 'migrating failed');
  process.exitCode = 1;
} finally {
  await handle.close();
}
