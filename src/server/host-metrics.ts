import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Logger } from '../platform/logger.js';
import type { MetricsExposition } from './metrics.js';

/**
 * /metrics for a host of WEB_CONCURRENCY workers. A scrape lands on whichever worker the
 * primary handed the connection to; that worker asks the primary, which asks every
 * listening worker for its registry as JSON and adds them up with prom-client's
 * `AggregatorRegistry.aggregate` (each metric by its `aggregator`: counters and histograms
 * summed, gauges as metrics.ts says), together with the primary's own metrics. So every
 * scrape answers for the whole host, whichever worker serves it.
 *
 * prom-client's `clusterMetrics()` does the same exchange, but it asks every connected
 * worker, including one still loading its modules that cannot answer yet, and then fails
 * the whole scrape after 5 s; here only listening workers are asked, and one that does not
 * answer in time is left out of that scrape (and logged) instead.
 */

/** Primary → worker: send your registry's metrics as JSON. Worker → primary: here they are. */
const WORKER_METRICS = 'nightgraph:worker-metrics';
/** Worker → primary: the host's metrics, please. Primary → worker: here they are, as text. */
const HOST_METRICS = 'nightgraph:host-metrics';

/** How long the primary waits for each worker's metrics before leaving it out of a scrape. */
const WORKER_ANSWER_MS = 2_000;
/** How long a worker waits for the primary's answer before its /metrics fails. */
const PRIMARY_ANSWER_MS = 5_000;

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

interface Message {
  type: string;
  id: number;
  metrics?: MetricsJson;
  text?: string;
  error?: string;
}

const isMessage = (message: unknown, type: string): message is Message =>
  typeof message === 'object' && message !== null && (message as Message).type === type && typeof (message as Message).id === 'number';

/** `process.send` without a callback turns a closed channel into an uncaught 'error' event. */
const sendToPrimary = (message: Message) =>
  new Promise<void>((resolve, reject) => {
    if (!process.send) return reject(new Error('this process is not a cluster worker'));
    process.send(message, undefined, undefined, (error) => (error ? reject(error) : resolve()));
  });

/**
 * In a worker: answers the primary's requests for `own` (this worker's registry), and
 * returns what /metrics answers, the host's metrics as the primary adds them up. Rejects
 * when the primary does not answer within PRIMARY_ANSWER_MS (the route answers 500).
 */
export function exposeHostMetrics(own: Registry): MetricsExposition {
  const waiting = new Map<number, (answer: Message) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (isMessage(message, WORKER_METRICS)) {
      own.getMetricsAsJSON().then(
        (metrics) => sendToPrimary({ type: WORKER_METRICS, id: message.id, metrics }),
        (error: unknown) => sendToPrimary({ type: WORKER_METRICS, id: message.id, error: String(error) }),
      ).catch(() => {
        // The primary is gone; this worker is stopping (see cluster-worker.ts).
      });
    } else if (isMessage(message, HOST_METRICS)) {
      waiting.get(message.id)?.(message);
    }
  });
  return {
    contentType: own.contentType,
    metrics() {
      const id = nextId++;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`the cluster primary did not answer with the host's metrics within ${PRIMARY_ANSWER_MS} ms`));
        }, PRIMARY_ANSWER_MS);
        waiting.set(id, (answer) => {
          clearTimeout(timer);
          waiting.delete(id);
          if (answer.text !== undefined) resolve(answer.text);
          else reject(new Error(`the cluster primary could not add up the host's metrics: ${answer.error}`));
        });
        sendToPrimary({ type: HOST_METRICS, id }).catch((error: unknown) => {
          clearTimeout(timer);
          waiting.delete(id);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
      });
    },
  };
}

export interface HostMetricsSources {
  /** The workers to ask, by slot (1…WEB_CONCURRENCY): those listening now. */
  workers(): ReadonlyMap<number, Worker>;
  /** The primary's own metrics (workers running, replaced). */
  own: Registry;
  logger: Logger;
}

/**
 * In the primary: answers every worker's request for the host's metrics. Besides the sum,
 * `nightgraph_worker_graphql_requests_total{worker}` gives each slot's share of the
 * requests, so an operator sees how connections are spread and spots a worker that
 * answers nothing; it starts again from 0 when the slot's worker is replaced.
 */
export function serveHostMetrics({ workers, own, logger }: HostMetricsSources): void {
  /** Answers still awaited, by worker id, then by request id. */
  const pending = new Map<number, Map<number, (metrics: MetricsJson | undefined) => void>>();
  let nextId = 0;

  const askWorker = (worker: Worker, id: number) =>
    new Promise<MetricsJson | undefined>((resolve) => {
      const ofWorker = pending.get(worker.id) ?? new Map<number, (metrics: MetricsJson | undefined) => void>();
      pending.set(worker.id, ofWorker);
      const timer = setTimeout(() => {
        logger.warn({ pid: worker.process.pid, timeoutMs: WORKER_ANSWER_MS }, 'a worker did not send its metrics in time; left out of this scrape');
        settle(undefined);
      }, WORKER_ANSWER_MS);
      function settle(metrics: MetricsJson | undefined) {
        clearTimeout(timer);
        ofWorker.delete(id);
        resolve(metrics);
      }
      ofWorker.set(id, settle);
      worker.send({ type: WORKER_METRICS, id }, undefined, (error) => {
        if (error) settle(undefined);
      });
    });

  async function hostMetrics(): Promise<string> {
    const id = nextId++;
    const bySlot = [...workers()];
    const answers = await Promise.all(bySlot.map(([, worker]) => askWorker(worker, id)));
    const requests = {
      name: 'nightgraph_worker_graphql_requests_total',
      help: 'GraphQL HTTP requests answered by the worker in each slot (1…WEB_CONCURRENCY), since it started',
      type: 'counter',
      aggregator: 'sum',
      values: bySlot.flatMap(([slot], i) => {
        const metrics = answers[i];
        return metrics ? [{ labels: { worker: String(slot) }, value: requestsAnswered(metrics) }] : [];
      }),
    };
    const found = answers.filter((metrics): metrics is MetricsJson => metrics !== undefined);
    return AggregatorRegistry.aggregate([...found, await own.getMetricsAsJSON(), [requests]]).metrics();
  }

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (isMessage(message, WORKER_METRICS)) {
      pending.get(worker.id)?.get(message.id)?.(message.metrics);
      return;
    }
    if (!isMessage(message, HOST_METRICS)) return;
    hostMetrics().then(
      (text) => ({ type: HOST_METRICS, id: message.id, text }),
      (error: unknown) => {
        logger.error({ err: error }, "could not add up the host's metrics");
        return { type: HOST_METRICS, id: message.id, error: String(error) };
      },
    ).then((answer) =>
      worker.send(answer, undefined, () => {
        // A worker that exited meanwhile has no scrape left to answer.
      }),
    );
  });
  // A worker that exits answers nothing more: its scrapes go on without it at once.
  cluster.on('exit', (worker: Worker) => {
    for (const settle of pending.get(worker.id)?.values() ?? []) settle(undefined);
    pending.delete(worker.id);
  });
}

/** The GraphQL HTTP requests one worker's registry counted (its request-duration histogram's counts). */
function requestsAnswered(metrics: MetricsJson): number {
  const histogram = metrics.find((m) => m.name === 'nightgraph_graphql_request_duration_seconds');
  let total = 0;
  for (const value of (histogram?.values ?? []) as { metricName?: string; value: number }[]) {
    if (value.metricName === 'nightgraph_graphql_request_duration_seconds_count') total += value.value;
  }
  return total;
}
