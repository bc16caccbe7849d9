import { randomUUID } from 'node:crypto';
import { pino, type DestinationStream, type Logger } from 'pino';
import { currentScope, withScope } from './async-scope.js';
import type { SqlStats } from './sql-stats.js';
import type { Span } from './tracing.js';

export type { Logger };

/** What the server knows about the HTTP request being served, for logs and metrics. */
export interface RequestScope {
  /** Returned in `x-request-id` and added to every log line written while serving it. */
  readonly requestId: string;
  /** The metric label of the operation, once GraphQL has resolved it (see `Metrics.operationLabel`). */
  operation?: string;
  /** How GraphQL answered: 'ok', or 'error' when the response carries errors; 'rejected' when refused before GraphQL whatever the status. */
  outcome?: 'ok' | 'error' | 'rejected';
  /** The request's SQL counter, once it has one. */
  sql?: SqlStats;
  /** A subscription streamed over HTTP: how long it stayed open is no request latency, so it is not timed as one. */
  streamed?: boolean;
  /** The request's span, while tracing is on (see tracing.ts). */
  span?: Span;
}

/** Runs `fn` as part of serving `scope`: logs written inside it, however deep, carry its id. */
export function inRequest<T>(scope: RequestScope, fn: () => T): T {
  return withScope({ request: scope }, fn);
}

/** The request being served in this async context, if any. */
export function currentRequest(): RequestScope | undefined {
  return currentScope()?.request;
}

const REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The caller's `x-request-id` when it is sane (≤ 128 of [A-Za-z0-9_-]), else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * JSON lines (pino). Inside `inRequest` every line carries the request's `requestId` (and
 * its `operation` once known). `destination` is for tests that read the lines back.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'nightgraph' },
    mixin() {
      const scope = currentScope()?.request;
      if (!scope) return {};
      return scope.operation === undefined ? { requestId: scope.requestId } : { requestId: scope.requestId, operation: scope.operation };
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
