// `npm run seed`: applies migrations and loads the demo data into an empty database,
// through the same services the API uses (an app is started for that, and stopped).
import { loadConfig } from '../config.js';
import { createApp } from '../server/app.js';

const config = loadConfig({ ...process.env, SEED_DEMO_DATA: 'true', PORT: '0', HOST: '127.0.0.1' });
const app = createApp(config);
try {
  const running = await app.start();
  console.log(running.seeded ? `Demo data loaded into the ${running.dbKind} database.` : 'The database already has clubs: nothing loaded.');
} finally {
  await app.stop();
}
