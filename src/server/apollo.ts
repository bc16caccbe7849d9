import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from '@apollo/server/plugin/landingPage/default';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Config } from '../config.js';
import { limitRules } from '../graphql/limits.js';
import type { RateLimiter } from '../platform/rate-limit.js';
import { formatError } from '../errors.js';
import type { Context } from '../graphql/context.js';
import type { Logger } from '../platform/logger.js';
import { jitExecutor, operationCompiler } from './jit-executor.js';
import { knownOperations } from './known-operations.js';
import type { Metrics } from './metrics.js';
import { operationHooks, type OperationHooks } from './operation-hooks.js';

export interface ApolloDeps {
  /** Absent when rate limiting is off. */
  rateLimiter?: RateLimiter;
  /** Where automatic persisted queries are kept: Redis when configured, else Apollo's in-memory cache. */
  persistedQueryCache?: KeyValueCache<string>;
}

/**
 * Apollo Server with our limits, error policy and executor, and the known-operations path
 * beside it (known-operations.ts): documents Apollo has resolved once are answered
 * without its pipeline, with the same hooks around them.
 */
export function createApollo(schema: GraphQLSchema, config: Config, metrics: Metrics, logger: Logger, deps: ApolloDeps = {}) {
  const development = config.env !== 'production';
  const hooks = operationHooks(schema, config, metrics, logger, deps.rateLimiter);
  const compile = operationCompiler(schema);
  const format = (formatted: GraphQLFormattedError, error: unknown) => formatError(formatted, error, development && config.env !== 'test');
  const known = knownOperations({ compile, hooks, formatError: format });
  const apollo = new ApolloServer<Context>({
    gateway: jitExecutor(schema, compile),
    nodeEnv: config.env,
    introspection: config.introspection,
    // Limits every document is validated against, with graphql-js's rules, before anything runs.
    validationRules: limitRules(config.limits),
    parseOptions: { maxTokens: config.limits.tokens },
    persistedQueries: config.persistedQueries ? (deps.persistedQueryCache ? { cache: deps.persistedQueryCache } : {}) : false,
    // Batched HTTP requests (an array body) are refused: one request, one operation, one set of limits.
    allowBatchedHttpRequests: false,
    // The process's signals are main.ts's: it drains the whole app within
    // SHUTDOWN_TIMEOUT_SECONDS. Apollo's own handler (on outside NODE_ENV=test) would stop
    // Apollo alone and then kill the process with the signal again, cutting the drain short.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    // No "Did you mean …?" naming schema fields in production errors.
    hideSchemaDetailsFromClientErrors: !development,
    includeStacktraceInErrorResponses: false,
    formatError: format,
    plugins: [
      // We set no HTTP cache hints; the cache-control plugin would wrap every resolver to compute them.
      ApolloServerPluginCacheControlDisabled(),
      development
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false })
        : ApolloServerPluginLandingPageProductionDefault({ footer: false }),
      operationPlugin(hooks),
      known.plugin,
    ],
  });
  return { apollo, known };
}

/** The hooks every operation passes (operation-hooks.ts), at their places in Apollo's pipeline. */
function operationPlugin(hooks: OperationHooks): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, operationName, document, request, contextValue }) {
          hooks.named(operationName, operation?.operation);
          await hooks.admit(document, request.operationName, request.variables, operation?.operation, contextValue);
        },
        async didEncounterErrors({ errors }) {
          hooks.encountered(errors);
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const outgoing = { result: response.body.singleResult, http: response.http };
          hooks.finish(outgoing, contextValue);
          response.body.singleResult = outgoing.result;
        },
      };
    },
  };
}
