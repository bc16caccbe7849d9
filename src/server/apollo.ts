import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from '@apollo/server/plugin/landingPage/default';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config.js';
import { checkCost, limitRules } from '../graphql/limits.js';
import { rateLimitKey, type RateLimiter } from '../platform/rate-limit.js';
import { ErrorCode, formatError, unexpectedErrors } from '../errors.js';
import type { Context } from '../graphql/context.js';
import { currentRequest, type Logger } from '../platform/logger.js';
import { jitExecutor } from './jit-executor.js';
import type { Metrics } from './metrics.js';

export interface ApolloDeps {
  /** Absent when rate limiting is off. */
  rateLimiter?: RateLimiter;
  /** Where automatic persisted queries are kept: Redis when configured, else Apollo's in-memory cache. */
  persistedQueryCache?: KeyValueCache<string>;
}

export function createApollo(schema: GraphQLSchema, config: Config, metrics: Metrics, logger: Logger, deps: ApolloDeps = {}) {
  const development = config.env !== 'production';
  return new ApolloServer<Context>({
    gateway: jitExecutor(schema),
    nodeEnv: config.env,
    introspection: config.introspection,
    // Limits every document is validated against, with graphql-js's rules, before anything runs.
    validationRules: limitRules(config.limits),
    parseOptions: { maxTokens: config.limits.tokens },
    persistedQueries: config.persistedQueries ? (deps.persistedQueryCache ? { cache: deps.persistedQueryCache } : {}) : false,
    // Batched HTTP requests (an array body) are refused: one request, one operation, one set of limits.
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // No "Did you mean …?" naming schema fields in production errors.
    hideSchemaDetailsFromClientErrors: !development,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) => formatError(formatted, error, development && config.env !== 'test'),
    plugins: [
      // We set no HTTP cache hints; the cache-control plugin would wrap every resolver to compute them.
      ApolloServerPluginCacheControlDisabled(),
      development
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false })
        : ApolloServerPluginLandingPageProductionDefault({ footer: false }),
      operationGuards(schema, config, deps.rateLimiter),
      requestAccounting(config, metrics, logger),
    ],
  });
}

/**
 * Once the operation is known and before it runs: its cost with these variables against
 * the limit (QUERY_TOO_COMPLEX), then the caller's rate budget for its kind (RATE_LIMITED).
 */
function operationGuards(schema: GraphQLSchema, config: Config, rateLimiter: RateLimiter | undefined): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, request, contextValue }) {
          checkCost(schema, document, request.operationName, request.variables, config.limits);
          if (rateLimiter) {
            const subject = contextValue.viewer.kind === 'user' ? contextValue.viewer.principal.subject : undefined;
            await rateLimiter.consume(operation?.operation === 'mutation' ? 'mutation' : 'query', rateLimitKey(subject, contextValue.clientAddress));
          }
        },
      };
    },
  };
}

/**
 * Counts outcomes, logs unexpected errors (they are masked for the client), and — when
 * enabled — returns the request's SQL statement count and time in `extensions.sql`.
 * Tells the HTTP layer's request scope (see `withRequestScope`) the operation's metric
 * label — its name only once the document is valid, so clients cannot mint labels with
 * garbage — and the outcome.
 */
function requestAccounting(config: Config, metrics: Metrics, logger: Logger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operationName }) {
          const scope = currentRequest();
          if (scope) scope.operation = metrics.operationLabel(operationName);
        },
        async didEncounterErrors({ errors }) {
          for (const error of unexpectedErrors(errors)) {
            logger.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error while resolving');
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          // The database could not serve it: 503, and when to try again.
          const unavailable = result.errors?.find((e) => e.extensions?.code === ErrorCode.UNAVAILABLE);
          if (unavailable) {
            response.http.status = 503;
            response.http.headers.set('retry-after', String(unavailable.extensions?.retryAfter ?? 1));
          }
          const outcome = result.errors?.length ? 'error' : 'ok';
          metrics.graphqlRequests.inc({ outcome });
          const scope = currentRequest();
          if (scope) scope.outcome = outcome;
          if (config.sqlStatsInExtensions && contextValue?.sqlStats) {
            const { statements, durationMs } = contextValue.sqlStats;
            result.extensions = { ...result.extensions, sql: { statements, durationMs: Number(durationMs.toFixed(3)) } };
          }
        },
      };
    },
  };
}
