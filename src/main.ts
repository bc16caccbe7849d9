import cluster from 'node:cluster';
import { loadConfig } from './config.js';
import { createLogger } from './platform/logger.js';
import { startTracing } from './platform/tracing.js';
import { createApp } from './server/app.js';
import { runClusterPrimary } from './server/cluster.js';
import { joinCluster } from './server/cluster-worker.js';
import { FORCED_EXIT_GRACE_MS } from './server/shutdown.js';
import { startBanner } from './cli/start-banner.js';

const config = loadConfig();

if (config.webConcurrency > 1 && cluster.isPrimary) {
  // WEB_CONCURRENCY workers, each running this file as the branch below.
  runClusterPrimary(config, createLogger(config.logLevel));
} else {
  // Undefined when this is the only process: no primary to hear from or report to.
  const worker = joinCluster();
  const logger = worker ? createLogger(config.logLevel).child({ pid: process.pid }) : createLogger(config.logLevel);
  // Before the app, so that its Redis connections and first requests are traced; one SDK per process.
  const tracing = await startTracing(config.tracing);
  const app = createApp(config, { logger, exposeMetrics: worker?.exposeMetrics });
  const running = await app.start();

  const banner = await startBanner(config, running);
  if (banner && worker) worker.announce(banner);
  else if (banner) process.stdout.write(banner);

  /** pino writes asynchronously: the last lines would be lost to an immediate exit. */
  const exitAfterLogs = (code: number) => logger.flush(() => process.exit(code));

  // The first SIGINT or SIGTERM (or, in a worker, the primary's word) stops gracefully within
  // SHUTDOWN_TIMEOUT_SECONDS (exit 0, or 1 if something had to be cut off); a second signal
  // ends the process at once.
  let stopping = false;
  const stop = (why: Record<string, string>) => {
    stopping = true;
    logger.info({ ...why, timeoutSeconds: config.shutdownTimeoutSeconds }, 'shutting down');
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
        exitAfterLogs(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown did not finish cleanly');
        exitAfterLogs(1);
      });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (stopping) process.exit(1);
      stop({ signal });
    });
  }
  worker?.onStopRequest((reason) => {
    if (!stopping) stop({ reason });
  });
}
