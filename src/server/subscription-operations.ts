import {
  NoSchemaIntrospectionCustomRule,
  execute,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  type GraphQLSchema,
  type OperationTypeNode,
} from 'graphql';
import type { Config } from '../config.js';
import { AppError, badInput, ErrorCode, formatResult, tokenLimitMessage, unauthenticated, unexpectedErrors } from '../errors.js';
import { checkCost, limitRules, tooComplex } from '../graphql/limits.js';
import type { Context } from '../graphql/context.js';
import type { AvailabilitySnapshot } from '../modules/clubs/availability.js';
import type { VoteResultsSnapshot } from '../modules/voting/results-store.js';
import type { Viewer } from '../platform/auth.js';
import type { Logger } from '../platform/logger.js';
import { rateLimitKey, type RateLimiter } from '../platform/rate-limit.js';
import type { SnapshotFeed } from '../platform/snapshot-feed.js';
import { countSqlIn, newSqlStats } from '../platform/sql-stats.js';
import { inSpan, SpanKind, startSpan } from '../platform/tracing.js';
import { batchedAdmission } from './admission.js';
import { endOperationSpan, nameOperationSpan, unresolvedOperation } from './operation-span.js';
import { containsNul, NUL_MESSAGE } from './request-body.js';
import { createSharedSubscriptions } from './shared-subscriptions.js';
import type { DocumentRequest, DocumentTransport, DocumentVerdict, TrustedDocuments } from './trusted-documents.js';

const DOCUMENTS_KEPT = 1_000;

export interface SubscriptionOperationsDeps {
  schema: GraphQLSchema;
  config: Config;
  availabilityFeed: SnapshotFeed<AvailabilitySnapshot>;
  voteResultsFeed: SnapshotFeed<VoteResultsSnapshot>;
  contextFor(viewer: Viewer, clientAddress?: string): Context;
  logger: Logger;
  /** Subscriptions draw from the caller's query budget; absent when rate limiting is off. */
  rateLimiter: RateLimiter | undefined;
  /** Which documents run; absent when TRUSTED_DOCUMENTS=off. */
  trusted?: TrustedDocuments;
}

/** An operation as a streaming transport receives it (graphql-ws checks its own message shape first). */
export interface OperationRequest {
  query: unknown;
  variables?: unknown;
  operationName?: unknown;
  /** Where a persisted document's hash travels (`persistedQuery`), and graphql-sse's `operationId`. */
  extensions?: unknown;
  /** A persisted document's id (the GraphQL-over-HTTP persisted documents proposal). */
  documentId?: unknown;
}

/**
 * What every streaming transport — graphql-ws, graphql-sse, multipart HTTP — does with an
 * operation, so that each gets the same rules: the token's expiry, the trusted-documents
 * policy (before anything parses the document), the same validation and
 * introspection policy as HTTP, the cost limit and the rate budget, errors from the closed
 * set with internals masked, and the shared execution of public subscriptions (one
 * execution and one serialization per event per document, whatever the transports of its
 * subscribers).
 */
export function createSubscriptionOperations(deps: SubscriptionOperationsDeps) {
  const { schema, config, availabilityFeed, voteResultsFeed, contextFor, logger, rateLimiter, trusted } = deps;
  const production = config.env === 'production';
  const rules = [...specifiedRules, ...limitRules(config.limits), ...(config.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const documents = new Map<string, DocumentNode | readonly GraphQLError[]>();
  /**
   * An operation's document, parsed and validated once per distinct query text: ten
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
                e.extensions.code === ErrorCode.QUERY_TOO_COMPLEX ? streamError(tooComplex(e.message)) : badInput(production ? withoutSuggestions(e.message) : e.message),
              )
            : document;
      } catch (error) {
        const message = error instanceof Error ? error.message : 'The query does not parse';
        const tokenLimit = tokenLimitMessage(message);
        known = [tokenLimit ? streamError(tooComplex(tokenLimit)) : badInput(message)];
      }
      if (documents.size >= DOCUMENTS_KEPT) documents.delete(documents.keys().next().value!);
      documents.set(query, known);
    }
    return known;
  };
  const format = (result: ExecutionResult): ExecutionResult => {
    for (const error of unexpectedErrors(result.errors)) {
      logger.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error in a streamed operation');
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

  /** The trusted-documents policy's verdict (trusted-documents.ts); every request runs when it is off. */
  const admitDocument = (request: OperationRequest, transport: DocumentTransport): DocumentVerdict =>
    trusted ? trusted.check(request as unknown as DocumentRequest, transport) : { kind: 'run', request: request as unknown as DocumentRequest };

  return {
    shared,
    format,
    /**
     * Whether the request's document may run, and the request to go on with (the manifest's
     * text in `query` when it named a document by id). `prepare` asks too; a transport that
     * must answer a refusal before it streams (with an HTTP status) asks first, and `prepare`
     * then lets the request it got back through without counting it again.
     */
    admitDocument,
    /** The kind of operation a query text holds, if it is a valid document (undefined otherwise). */
    operationType(query: string, operationName: string | null | undefined): OperationTypeNode | undefined {
      const document = documentFor(query);
      return Array.isArray(document) ? undefined : getOperationAST(document as DocumentNode, operationName)?.operation;
    },
    /** The arguments to run the operation with, or the errors that refuse it. */
    async prepare(viewer: Viewer, clientAddress: string | undefined, sent: OperationRequest, transport: DocumentTransport): Promise<ExecutionArgs | readonly GraphQLError[]> {
      if (viewer.kind === 'user' && viewer.expiresAtMs !== undefined && viewer.expiresAtMs <= Date.now()) {
        return [unauthenticated('Sign in again: the token has expired')];
      }
      const verdict = admitDocument(sent, transport);
      if (verdict.kind === 'refused') return [streamError(verdict.error)];
      const request = verdict.request as unknown as OperationRequest;
      const { query, variables, operationName } = request;
      if (typeof query !== 'string') return [badInput('The request needs a "query" string')];
      if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return [badInput('"variables" must be an object')];
      if (operationName != null && typeof operationName !== 'string') return [badInput('"operationName" must be a string')];
      if (containsNul(request)) return [badInput(NUL_MESSAGE)];
      const document = documentFor(query);
      if (Array.isArray(document)) return document;
      try {
        checkCost(schema, document as DocumentNode, operationName, variables as Record<string, unknown> | undefined, config.limits);
        if (rateLimiter) await rateLimiter.consume('query', rateLimitKey(viewer.kind === 'user' ? viewer.principal.subject : undefined, clientAddress));
      } catch (error) {
        if (error instanceof AppError) return [streamError(error)];
        throw error;
      }
      return {
        schema,
        document: document as DocumentNode,
        variableValues: (variables ?? {}) as Record<string, unknown>,
        operationName: operationName ?? null,
        contextValue: contextFor(viewer, clientAddress),
      };
    },
    /**
     * Runs prepared arguments: subscriptions as a stream of results (shared where public),
     * anything else once. With tracing on, the run until the stream is set up (or the
     * result is ready) is the operation's span, with the statements it sent.
     */
    async run(args: ExecutionArgs): Promise<AsyncIterable<ExecutionResult> | ExecutionResult> {
      const operation = getOperationAST(args.document, args.operationName);
      const start = () => (operation?.operation === 'subscription' ? shared.subscribe(args) : execute(args));
      const traced = startSpan(unresolvedOperation, { kind: SpanKind.SERVER });
      if (!traced) return start();
      nameOperationSpan(traced.span, operation?.name?.value, operation?.operation);
      const sql = newSqlStats();
      let outcome: 'ok' | 'error' = 'error';
      try {
        const started = await inSpan(traced, () => countSqlIn(sql, async () => start()));
        outcome = 'errors' in started && started.errors?.length ? 'error' : 'ok';
        return started;
      } finally {
        endOperationSpan(traced.span, outcome, sql);
      }
    },
    /**
     * A result's JSON followed by one `}` (to close an envelope written before it), as the
     * bytes every subscriber of a shared result is sent; other results are formatted and
     * encoded here.
     */
    encode(result: ExecutionResult): Buffer {
      return shared.bytesOf(result) ?? Buffer.from(`${JSON.stringify(format(result))}}`);
    },
  };
}

export type SubscriptionOperations = ReturnType<typeof createSubscriptionOperations>;

/** An error as a streaming client gets it: the HTTP status and headers an AppError may carry mean nothing there. */
export function streamError(error: AppError): GraphQLError {
  const { http: _http, ...extensions } = error.extensions;
  return new AppError(extensions.code as ErrorCode, error.message, extensions);
}

/** graphql-js's "Did you mean …?" names schema fields; production keeps those to itself. */
function withoutSuggestions(message: string): string {
  return message.replace(/ Did you mean .+\?$/, '');
}
