import type { IncomingMessage, Server } from 'node:http';
import {
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
} from 'graphql';
import type { Config } from '../config.js';
import { AppError, badInput, ErrorCode, formatResult, tokenLimitMessage, unauthenticated, unexpectedErrors } from '../errors.js';
import { checkCost, limitRules, tooComplex } from '../graphql/limits.js';
import { rateLimitKey, type RateLimiter } from '../platform/rate-limit.js';
import type { Context } from '../graphql/context.js';
import type { SnapshotFeed } from '../platform/snapshot-feed.js';
import type { AvailabilitySnapshot } from '../modules/clubs/availability.js';
import type { VoteResultsSnapshot } from '../modules/voting/results-store.js';
import type { Viewer } from '../platform/auth.js';
import type { TokenService } from '../platform/tokens.js';
import type { Logger } from '../platform/logger.js';
import { containsNul, NUL_MESSAGE } from './graphql-http.js';
import { batchedAdmission } from './admission.js';
import { createSharedSubscriptions } from './shared-subscriptions.js';
import { attachWebSocket, type Extra } from './ws.js';

type SocketExtra = Extra & { viewer?: Viewer };

const DOCUMENTS_KEPT = 1_000;

export interface SubscriptionDeps {
  schema: GraphQLSchema;
  config: Config;
  tokens: TokenService;
  availabilityFeed: SnapshotFeed<AvailabilitySnapshot>;
  voteResultsFeed: SnapshotFeed<VoteResultsSnapshot>;
  contextFor(viewer: Viewer, clientAddress?: string): Context;
  logger: Logger;
  /** Subscriptions draw from the caller's query budget; absent when rate limiting is off. */
  rateLimiter: RateLimiter | undefined;
}

/**
 * GraphQL over WebSocket (graphql-ws) on `/graphql`, with the rules HTTP has: the same
 * validation and introspection policy, errors from the same closed set with internals
 * masked, the token checked at connect and again at each operation, foreign browser
 * origins refused at the upgrade. Availability subscriptions execute once per event
 * for all their subscribers.
 */
export function attachSubscriptions(server: Server, deps: SubscriptionDeps) {
  const { schema, config, tokens, availabilityFeed, voteResultsFeed, contextFor, logger, rateLimiter } = deps;
  const production = config.env === 'production';
  const rules = [...specifiedRules, ...limitRules(config.limits), ...(config.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const documents = new Map<string, DocumentNode | readonly GraphQLError[]>();
  /**
   * A subscription's document, parsed and validated once per distinct query text: ten
   * thousand dashboards sending the same subscription share one document in memory.
   */
  const documentFor = (query: string): DocumentNode | readonly GraphQLError[] => {
    let known = documents.get(query);
    if (known === undefined) {
      try {
        const document = parse(query, { maxTokens: config.limits.tokens });
        const errors = validate(schema, document, rules);
        known =
          errors.length > 0
            ? errors.map((e) =>
                e.extensions.code === ErrorCode.QUERY_TOO_COMPLEX ? socketError(tooComplex(e.message)) : badInput(production ? withoutSuggestions(e.message) : e.message),
              )
            : document;
      } catch (error) {
        const message = error instanceof Error ? error.message : 'The query does not parse';
        const tokenLimit = tokenLimitMessage(message);
        known = [tokenLimit ? socketError(tooComplex(tokenLimit)) : badInput(message)];
      }
      if (documents.size >= DOCUMENTS_KEPT) documents.delete(documents.keys().next().value!);
      documents.set(query, known);
    }
    return known;
  };
  const format = (result: Parameters<typeof formatResult>[0]) => {
    for (const error of unexpectedErrors(result.errors)) {
      logger.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error in a WebSocket operation');
    }
    return formatResult(result, config.env === 'development');
  };

  // One anonymous context per batch: the loaders' caches live as long as the lookup.
  const nightExists = batchedAdmission('Night', (ids) => contextFor({ kind: 'anonymous' }).loaders.nightById.loadMany(ids));
  const voteSessionExists = batchedAdmission('Vote session', (ids) => contextFor({ kind: 'anonymous' }).loaders.voteSessionById.loadMany(ids));
  const shared = createSharedSubscriptions(
    {
      availabilityChanged: {
        publicTypes: new Set(['Availability', 'TableAvailability', 'Table', 'Money']),
        topic: (args) => String(args.nightId),
        admit: nightExists,
        listen: (nightId, push) => availabilityFeed.listen(nightId, push),
        refresh: (nightId) => availabilityFeed.reconcile(nightId),
      },
      voteResultsChanged: {
        publicTypes: new Set(['VoteResults', 'VoteResult', 'Song']),
        topic: (args) => String(args.sessionId),
        admit: voteSessionExists,
        listen: (sessionId, push) => voteResultsFeed.listen(sessionId, push),
        refresh: (sessionId) => voteResultsFeed.reconcile(sessionId),
      },
    },
    (subscriber) => {
      const of = subscriber as Context | undefined;
      return contextFor(of?.viewer ?? { kind: 'anonymous' }, of?.clientAddress);
    },
    (subscriber) => {
      const { viewer } = subscriber as Context;
      return viewer.kind === 'user' ? `${viewer.principal.subject}\u0000${viewer.issuedAtMs ?? ''}\u0000${viewer.principal.roles}\u0000${viewer.principal.clubIds}` : 'anonymous';
    },
    format,
  );

  return attachWebSocket<SocketExtra>(server, {
    logger,
    rewrite: shared.substitute,
    originAllowed: (origin, request) => originAllowed(origin, request, config.allowedOrigins),
    graphql: {
      schema,
      subscribe: shared.subscribe,
      onNext: (_ctx, _id, _payload, _args, result) => shared.onNext(result) ?? format(result),
      jsonMessageReplacer: shared.replacer,
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const viewer = await tokens.viewerFrom(typeof authorization === 'string' ? authorization : undefined);
        // A token that was sent but is not valid is refused (4403); no token is anonymous.
        if (viewer.kind === 'anonymous' && viewer.tokenProblem) return false;
        ctx.extra.viewer = viewer;
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const viewer = ctx.extra.viewer ?? { kind: 'anonymous' };
        if (viewer.kind === 'user' && viewer.expiresAtMs !== undefined && viewer.expiresAtMs <= Date.now()) {
          return [unauthenticated('Sign in again: the token has expired')];
        }
        if (containsNul(payload)) return [badInput(NUL_MESSAGE)];
        const document = documentFor(payload.query);
        if (Array.isArray(document)) return document;
        const address = ctx.extra.clientAddress;
        try {
          checkCost(schema, document as DocumentNode, payload.operationName, payload.variables, config.limits);
          if (rateLimiter) await rateLimiter.consume('query', rateLimitKey(viewer.kind === 'user' ? viewer.principal.subject : undefined, address));
        } catch (error) {
          if (error instanceof AppError) return [socketError(error)];
          throw error;
        }
        return {
          schema,
          document: document as DocumentNode,
          variableValues: payload.variables ?? {},
          operationName: payload.operationName ?? null,
          contextValue: contextFor(viewer, address),
        };
      },
    },
  });
}

/** An error as a WebSocket client gets it: the HTTP status and headers an AppError may carry mean nothing here. */
function socketError(error: AppError): GraphQLError {
  const { http: _http, ...extensions } = error.extensions;
  return new AppError(extensions.code as ErrorCode, error.message, extensions);
}

/** Pages of the server's own origin and of the configured ones. */
function originAllowed(origin: string, request: IncomingMessage, allowed: string[]): boolean {
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** graphql-js's "Did you mean …?" names schema fields; production keeps those to itself. */
function withoutSuggestions(message: string): string {
  return message.replace(/ Did you mean .+\?$/, '');
}
