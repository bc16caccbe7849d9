import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from '@apollo/server/plugin/landingPage/default';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config.js';
import { formatError, unexpectedErrors } from '../errors.js';
import type { Context } from '../graphql/context.js';
import type { Logger } from '../platform/logger.js';
import { jitExecutor } from './jit-executor.js';
import type { Metrics } from './metrics.js';

export function createApollo(schema: GraphQLSchema, config: Config, metrics: Metrics, logger: Logger) {
  const development = config.env !== 'production';
  return new ApolloServer<Context>({
    gateway: jitExecutor(schema),
    nodeEnv: config.env,
    introspection: development,
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
      requestAccounting(config, metrics, logger),
    ],
  });
}

/**
 * Counts outcomes, logs unexpected errors (they are masked for the client), and — when
 * enabled — returns the request's SQL statement count and time in `extensions.sql`.
 */
function requestAccounting(config: Config, metrics: Metrics, logger: Logger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of unexpectedErrors(errors)) {
            logger.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error while resolving');
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          metrics.graphqlRequests.inc({ outcome: result.errors?.length ? 'error' : 'ok' });
          if (config.sqlStatsInExtensions && contextValue?.sqlStats) {
            const { statements, durationMs } = contextValue.sqlStats;
            result.extensions = { ...result.extensions, sql: { statements, durationMs: Number(durationMs.toFixed(3)) } };
          }
        },
      };
    },
  };
}
