import cluster from 'node:cluster';
import type { Registry } from 'prom-client';
import { exposeHostMetrics } from './host-metrics.js';
import type { MetricsExposition } from './metrics.js';

/** Primary → worker: stop as on SIGTERM. */
export const STOP_MESSAGE = 'nightgraph:stop';
/** Worker → primary: the start banner (`text`), which the primary prints once for the host. */
export const BANNER_MESSAGE = 'nightgraph:banner';

/** A worker's part in a WEB_CONCURRENCY host (cluster.ts is the primary's). */
export interface ClusterWorker {
  /** What /metrics answers: the whole host's metrics (host-metrics.ts). */
  exposeMetrics(registry: Registry): MetricsExposition;
  /** Hands the start banner to the primary, which prints the first it gets. */
  announce(banner: string): void;
  /**
   * Calls `stop` once, when the primary asks every worker to stop (it got SIGTERM or
   * SIGINT). A request that came before this was called is passed on at once. (A primary
   * that dies instead ends its workers at once: node:cluster exits a worker whose IPC
   * channel closes unexpectedly, before any listener of ours could drain it.)
   */
  onStopRequest(stop: (reason: string) => void): void;
}

/**
 * This process's part in a WEB_CONCURRENCY host, or undefined when it is not a cluster
 * worker. Call it before starting the app: a stop the primary asks for while the app
 * starts is kept until `onStopRequest` is given a way to stop.
 */
export function joinCluster(): ClusterWorker | undefined {
  if (!cluster.isWorker) return undefined;
  let requested: string | undefined;
  let stop: ((reason: string) => void) | undefined;
  const request = (reason: string) => {
    if (requested !== undefined) return;
    requested = reason;
    stop?.(reason);
  };
  process.on('message', (message: unknown) => {
    if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === STOP_MESSAGE) {
      request('the cluster primary is shutting down');
    }
  });
  return {
    exposeMetrics: exposeHostMetrics,
    announce(banner) {
      process.send?.({ type: BANNER_MESSAGE, text: banner }, undefined, undefined, () => {
        // The primary is gone: this worker is stopping, and nobody reads the banner.
      });
    },
    onStopRequest(handler) {
      stop = handler;
      if (requested !== undefined) handler(requested);
    },
  };
}
