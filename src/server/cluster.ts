import cluster, { type Worker } from 'node:cluster';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../platform/logger.js';
import { BANNER_MESSAGE, STOP_MESSAGE } from './cluster-worker.js';
import { serveHostMetrics } from './host-metrics.js';
import { FORCED_EXIT_GRACE_MS } from './shutdown.js';

/** More unexpected worker exits than this within RESTART_WINDOW_MS and the primary gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** Beyond a worker's own bound on stopping, how long the primary waits before killing it. */
const PRIMARY_GRACE_MS = 1_000;

/**
 * The primary of a WEB_CONCURRENCY host: forks that many workers, each a whole server
 * (main.ts) on the shared port, and keeps the slots filled. It listens nowhere itself and
 * opens no database: node:cluster hands it each connection and it passes them round to the
 * workers in turn. It prints the start banner once, adds up /metrics for the host
 * (host-metrics.ts), and passes SIGTERM and SIGINT on: every worker drains as a single
 * process does, within SHUTDOWN_TIMEOUT_SECONDS, and the primary exits 0 when all exited
 * cleanly, 1 otherwise. A second signal ends every worker at once.
 *
 * A worker that exits while the host is not stopping is logged and replaced in its slot,
 * unless workers exited more than MAX_RESTARTS times in RESTART_WINDOW_MS (a crash loop:
 * the primary stops the rest and exits 1, for the supervisor to see), or before any worker
 * ever listened (the server cannot start: exit 1, as a single process would).
 */
export function runClusterPrimary(config: Config, logger: Logger): void {
  const size = config.webConcurrency;
  /** Each slot's current worker, 1…size. */
  const slots = new Map<number, Worker>();
  /** The slots whose worker is listening. */
  const listening = new Map<number, Worker>();
  const slotOf = new Map<number, number>();
  const exits: number[] = [];
  let everListened = false;
  let bannerShown = false;
  /** Set once the host stops: whether everything so far went cleanly. */
  let stopping: { clean: boolean } | undefined;

  const own = new Registry();
  new Gauge({
    name: 'nightgraph_cluster_workers',
    help: 'Worker processes listening on this host (WEB_CONCURRENCY asks for how many)',
    registers: [own],
    collect() {
      this.set(listening.size);
    },
  });
  const replaced = new Counter({
    name: 'nightgraph_cluster_worker_restarts_total',
    help: 'Workers that exited while the host was not stopping and were replaced',
    registers: [own],
  });
  serveHostMetrics({ workers: () => listening, own, logger });

  function fork(slot: number): void {
    const worker = cluster.fork();
    slots.set(slot, worker);
    slotOf.set(worker.id, slot);
    worker.on('message', (message: unknown) => {
      const banner = message as { type?: unknown; text?: unknown };
      if (banner?.type !== BANNER_MESSAGE || typeof banner.text !== 'string' || bannerShown) return;
      bannerShown = true;
      process.stdout.write(banner.text);
    });
  }

  cluster.on('listening', (worker) => {
    const slot = slotOf.get(worker.id);
    if (slot === undefined) return;
    listening.set(slot, worker);
    everListened = true;
    logger.info({ slot, pid: worker.process.pid }, 'worker listening');
    if (listening.size === size) logger.info({ workers: size }, 'every worker is listening');
  });

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker.id);
    if (slot === undefined) return;
    slotOf.delete(worker.id);
    if (listening.get(slot) === worker) listening.delete(slot);
    if (slots.get(slot) === worker) slots.delete(slot);
    const exit = { slot, pid: worker.process.pid, code, signal };
    if (stopping) {
      if (code !== 0) stopping.clean = false;
      logger.info(exit, 'worker stopped');
      if (slots.size === 0) finish();
      return;
    }
    // Exit 0: it drained on a signal of its own (`kill -TERM <pid>` recycles one worker).
    if (code === 0) logger.warn(exit, 'worker stopped on its own');
    else logger.error(exit, 'worker exited unexpectedly');
    if (!everListened) {
      logger.fatal('a worker exited before any worker listened: the server cannot start; stopping');
      return stop(false);
    }
    const now = Date.now();
    while (exits.length > 0 && now - exits[0]! > RESTART_WINDOW_MS) exits.shift();
    if (exits.length >= MAX_RESTARTS) {
      logger.fatal(
        { exits: exits.length + 1, windowSeconds: RESTART_WINDOW_MS / 1000 },
        'workers keep exiting: not replacing them any more; stopping the others',
      );
      return stop(false);
    }
    exits.push(now);
    replaced.inc();
    logger.warn({ slot }, 'replacing the worker');
    fork(slot);
  });

  /** Asks every worker to stop; the primary exits when they all have, or past the bound. */
  function stop(clean: boolean): void {
    if (stopping) return;
    stopping = { clean };
    for (const worker of slots.values()) {
      worker.send({ type: STOP_MESSAGE }, undefined, () => {
        // A worker that cannot hear it is exiting already.
      });
    }
    setTimeout(() => {
      logger.error({ timeoutSeconds: config.shutdownTimeoutSeconds }, 'workers did not stop in time; killing them');
      killAll();
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000 + FORCED_EXIT_GRACE_MS + PRIMARY_GRACE_MS).unref();
    if (slots.size === 0) finish();
  }

  function finish(): void {
    logger.info('stopped');
    process.exit(stopping?.clean ? 0 : 1);
  }

  function killAll(): void {
    for (const worker of slots.values()) worker.process.kill('SIGKILL');
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: ending every worker at once');
        killAll();
        process.exit(1);
      }
      logger.info({ signal, workers: slots.size, timeoutSeconds: config.shutdownTimeoutSeconds }, 'shutting down');
      stop(true);
    });
  }

  logger.info({ workers: size }, 'starting worker processes');
  for (let slot = 1; slot <= size; slot += 1) fork(slot);
}
