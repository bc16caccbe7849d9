// `npm run seed`: applies migrations and loads the demo data into an empty database.
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { seedDemoData } from '../db/seed.js';

const config = loadConfig();
const handle = await openDatabase(config.database);
try {
  await migrate(handle);
  const { seeded } = await seedDemoData(handle.db);
  console.log(seeded ? `Demo data loaded into the ${handle.kind} database.` : 'The database already has clubs: nothing loaded.');
} finally {
  await handle.close();
}
