import { loadConfig } from './config.js';
import { createLogger } from './platform/logger.js';
import { createApp } from './server/app.js';
import { demoTokens } from './cli/demo-tokens.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const app = createApp(config, { logger });
const running = await app.start();

if (config.env !== 'production') {
  const tokens = await demoTokens(running.db, running.tokens);
  const lines = [
    '',
    `  Nightgraph is running: ${running.url}`,
    `  Open it in a browser for Apollo Sandbox. Database: ${running.dbKind}${config.redis ? ' + Redis' : ' (embedded)'}.`,
    '',
    '  Demo tokens (send as "Authorization: Bearer <token>"):',
    ...Object.entries(tokens).map(([role, token]) => `    ${role.padEnd(8)} ${token}`),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  });
}
