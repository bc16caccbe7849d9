import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { observeStatements } from '../platform/sql-stats.js';

/** The app's Prometheus metrics, on a registry of its own (several apps may share a process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nightgraph_' });
  const graphqlRequests = new Counter({
    name: 'nightgraph_graphql_requests_total',
    help: 'GraphQL HTTP requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'nightgraph_graphql_request_duration_seconds',
    help: 'Time to answer a GraphQL HTTP request',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const statementsPerRequest = new Histogram({
    name: 'nightgraph_sql_statements_per_request',
    help: 'SQL statements sent to answer one GraphQL request',
    buckets: [0, 1, 2, 3, 4, 5, 8, 13, 21, 50, 100],
    registers: [registry],
  });
  const statementDuration = new Histogram({
    name: 'nightgraph_sql_statement_duration_seconds',
    help: 'Round-trip time of one SQL statement',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const stopObserving = observeStatements((ms) => statementDuration.observe(ms / 1000));
  return { registry, graphqlRequests, requestDuration, statementsPerRequest, close: stopObserving };
}

export type Metrics = ReturnType<typeof createMetrics>;
