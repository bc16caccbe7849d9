import { loadConfig } from './config.js';
import { createLogger } from './platform/logger.js';
import { startTracing } from './platform/tracing.js';
import { createApp } from './server/app.js';
import { demoTokens } from './cli/demo-tokens.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
// Before the app, so that its Redis connections and first requests are traced.
const tracing = startTracing(config.tracing);
const app = createApp(config, { logger });
const running = await app.start();

if (config.env !== 'production') {
  const lines = [
    '',
    `  Nightgraph is running: ${running.url}`,
    `  Open it in a browser for Apollo Sandbox. Database: ${running.dbKind}${config.redis ? ' + Redis' : ' (embedded)'}.`,
    '',
  ];
  if (running.tokens.signs) {
    const tokens = await demoTokens(running.tokens);
    lines.push(
      '  Demo tokens (send as "Authorization: Bearer <token>"):',
      ...Object.entries(tokens).map(([role, token]) => `    ${role.padEnd(8)} ${token}`),
      '',
    );
  } else {
    lines.push('  Bearer tokens come from the identity provider (JWT_JWKS_URL or JWT_OIDC_ISSUER).', '');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Beyond SHUTDOWN_TIMEOUT_SECONDS, the time `stop` may take to cut off what overran it. */
const FORCED_EXIT_GRACE_MS = 1_000;

// The first SIGINT or SIGTERM stops gracefully within SHUTDOWN_TIMEOUT_SECONDS (exit 0, or 1
// if something had to be cut off); a second one ends the process at once.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal, timeoutSeconds: config.shutdownTimeoutSeconds }, 'shutting down');
    // The bound holds even if something ignores it.
    setTimeout(() => {
      logger.error({ timeoutSeconds: config.shutdownTimeoutSeconds }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000 + FORCED_EXIT_GRACE_MS).unref();
    app
      .stop()
      .then(() => tracing.stop())
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown did not finish cleanly');
        process.exit(1);
      });
  });
}
