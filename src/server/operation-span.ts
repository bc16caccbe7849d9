import type { SqlStats } from '../platform/sql-stats.js';
import { SpanStatusCode, type Span } from '../platform/tracing.js';

export type OperationKind = 'query' | 'mutation' | 'subscription';

/** Before GraphQL knows the operation, and for requests refused before it does. */
const UNRESOLVED = 'GraphQL Operation';

/**
 * Names an operation's span as OpenTelemetry's GraphQL conventions do — `query NightTables`,
 * `mutation`, the type alone when the operation is anonymous — once the document is valid,
 * so no client can mint span names with garbage.
 */
export function nameOperationSpan(span: Span, operationName: string | null | undefined, kind: OperationKind | undefined): void {
  if (!kind) return;
  span.updateName(operationName ? `${kind} ${operationName}` : kind);
  span.setAttribute('graphql.operation.type', kind);
  if (operationName) span.setAttribute('graphql.operation.name', operationName);
}

/** The span's name until GraphQL has resolved the operation. */
export const unresolvedOperation = UNRESOLVED;

/**
 * Ends an operation's span with how it went: `nightgraph.outcome` (`ok`, `error` when
 * the answer carries errors, `rejected` when it was refused before running) and the
 * statements it sent (`nightgraph.sql.statements`, `nightgraph.sql.duration_ms`).
 */
export function endOperationSpan(span: Span, outcome: 'ok' | 'error' | 'rejected', sql: SqlStats | undefined, attributes: Record<string, string | number> = {}): void {
  span.setAttributes({
    ...attributes,
    'nightgraph.outcome': outcome,
    'nightgraph.sql.statements': sql?.statements ?? 0,
    'nightgraph.sql.duration_ms': Number((sql?.durationMs ?? 0).toFixed(3)),
  });
  if (outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
