import type { DocumentNode, GraphQLError, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Config } from '../config.js';
import { ErrorCode, unexpectedErrors } from '../errors.js';
import type { Context } from '../graphql/context.js';
import { checkCost } from '../graphql/limits.js';
import { currentRequest, type Logger } from '../platform/logger.js';
import { rateLimitKey, type RateLimiter } from '../platform/rate-limit.js';
import { nameOperationSpan, type OperationKind } from './operation-span.js';
import type { Metrics } from './metrics.js';

/** A response on its way out: its body's result and its HTTP head, still changeable. */
export interface OutgoingResult {
  result: { data?: unknown; errors?: readonly GraphQLFormattedError[]; extensions?: Record<string, unknown> };
  http: { status?: number; headers: Map<string, string> };
}

/**
 * What happens around every HTTP operation, whichever path executes it — Apollo's
 * pipeline (as its plugins, see apollo.ts) or the known-operations path
 * (known-operations.ts) — so both answer alike.
 */
export function operationHooks(schema: GraphQLSchema, config: Config, metrics: Metrics, logger: Logger, rateLimiter: RateLimiter | undefined) {
  return {
    /**
     * Once the operation is known and before it runs: its cost with these variables against
     * the limit (QUERY_TOO_COMPLEX), then the caller's rate budget for its kind (RATE_LIMITED).
     * Throws the refusal.
     */
    async admit(
      document: DocumentNode,
      operationName: string | null | undefined,
      variables: Record<string, unknown> | null | undefined,
      kind: OperationKind | undefined,
      context: Context,
    ): Promise<void> {
      checkCost(schema, document, operationName, variables, config.limits);
      if (rateLimiter) {
        const subject = context.viewer.kind === 'user' ? context.viewer.principal.subject : undefined;
        await rateLimiter.consume(kind === 'mutation' ? 'mutation' : 'query', rateLimitKey(subject, context.clientAddress));
      }
    },

    /**
     * Tells the HTTP layer's request scope (see `withRequestScope` in graphql-http.ts) the
     * operation's metric label — called only once the document is valid, so clients cannot
     * mint labels with garbage.
     */
    named(operationName: string | null | undefined, kind: OperationKind | undefined): void {
      const scope = currentRequest();
      if (!scope) return;
      scope.operation = metrics.operationLabel(operationName);
      if (scope.span) nameOperationSpan(scope.span, operationName, kind);
    },

    /** Logs the unexpected errors among these: the client sees them masked. */
    encountered(errors: readonly GraphQLError[]): void {
      for (const error of unexpectedErrors(errors)) {
        logger.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error while resolving');
      }
    },

    /**
     * Just before the answer leaves: 503 with Retry-After when the database could not serve
     * it, the outcome counted, and — when enabled — the request's SQL in `extensions.sql`.
     */
    finish({ result, http }: OutgoingResult, context: Context | undefined): void {
      const unavailable = result.errors?.find((e) => e.extensions?.code === ErrorCode.UNAVAILABLE);
      if (unavailable) {
        http.status = 503;
        http.headers.set('retry-after', String(unavailable.extensions?.retryAfter ?? 1));
      }
      const outcome = result.errors?.length ? 'error' : 'ok';
      metrics.graphqlRequests.inc({ outcome });
      const scope = currentRequest();
      if (scope) scope.outcome = outcome;
      if (config.sqlStatsInExtensions && context?.sqlStats) {
        const { statements, durationMs } = context.sqlStats;
        result.extensions = { ...result.extensions, sql: { statements, durationMs: Number(durationMs.toFixed(3)) } };
      }
    },
  };
}

export type OperationHooks = ReturnType<typeof operationHooks>;
