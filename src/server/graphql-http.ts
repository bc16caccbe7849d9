import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { Context } from '../graphql/context.js';
import { AppError } from '../errors.js';
import type { Viewer } from '../platform/auth.js';
import { inRequest, requestIdFrom, type RequestScope } from '../platform/logger.js';
import { rateLimitKey, type RateLimiter } from '../platform/rate-limit.js';
import { countSqlIn, newSqlStats, type SqlStats } from '../platform/sql-stats.js';
import { inSpan, SpanKind, startSpan, tracingEnabled } from '../platform/tracing.js';
import type { KnownOperations } from './known-operations.js';
import type { Metrics } from './metrics.js';
import { isPlainObject, type GraphQLBody, type ResponseCache } from './response-cache.js';
import { endOperationSpan, nameOperationSpan, unresolvedOperation } from './operation-span.js';
import { readGraphQLBody } from './request-body.js';
import type { DocumentRequest, TrustedDocuments } from './trusted-documents.js';


export interface GraphQLHttpOptions {
  apollo: ApolloServer<Context>;
  /** Answers documents Apollo has resolved before without its pipeline. */
  known: KnownOperations;
  viewerFrom(authorization: string | undefined): Promise<Viewer>;
  contextFor(viewer: Viewer, sqlStats: SqlStats, clientAddress: string | undefined): Context;
  /** Larger bodies are refused with 413 before they are read. */
  maxBodyBytes: number;
  /** Draws repeated reads served from the response cache from the caller's budget too. */
  rateLimiter: RateLimiter | undefined;
  metrics: Metrics;
  /** Serves repeated availability and report reads without GraphQL; absent when disabled. */
  responseCache: ResponseCache | undefined;
  /** The reports service's rule (reports/service.ts), for report reads served from the response cache. */
  mayReadReports(scope: Context, clubId: string): Promise<boolean>;
  sqlStatsInExtensions: boolean;
  /** Decides which documents run, before anything else looks at the request; absent when TRUSTED_DOCUMENTS=off. */
  trusted?: TrustedDocuments;
  /** Takes the POSTs that ask for a stream of results (multipart subscriptions). */
  streams?: {
    takes(req: IncomingMessage, body: unknown): boolean;
    serve(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
  };
}

/**
 * Serves Apollo on a plain Node request: parses the body, counts the SQL the request
 * causes, and reports it in a `Server-Timing` header (and in `extensions`, see the plugin).
 */
export function createGraphQLHandler(options: GraphQLHttpOptions) {
  const handle = async (req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> => {
    const started = performance.now();
    const contentType = req.headers['content-type'];
    let body: unknown;
    /** The URL's query string as Apollo is to read it: rewritten when a GET named a trusted document by id. */
    let search: string | undefined;
    const searchOfUrl = () => new URL(req.url ?? '/', 'http://localhost').search;
    if (req.method === 'POST') {
      const read = await readGraphQLBody(req, options.maxBodyBytes);
      if (read.kind === 'refused') return sendError(res, read.status, read.message);
      body = read.body;
    }
    if (options.trusted) {
      // Before the response cache, the known-operations path and Apollo: nothing parses a document the policy refuses.
      // A POST body that is no JSON object is Apollo's to refuse; a GET carries its request in the URL.
      const urlSearch = req.method === 'POST' ? undefined : searchOfUrl();
      const request = urlSearch !== undefined ? requestOfSearch(urlSearch) : isPlainObject(body) ? (body as DocumentRequest) : undefined;
      const verdict = request && options.trusted.check(request, 'http');
      if (verdict?.kind === 'refused') {
        scope.outcome = 'rejected';
        // Apollo's own answer to an unknown persisted query is never cached either.
        if (verdict.status === 200) res.setHeader('cache-control', 'private, no-cache, must-revalidate');
        return sendJsonError(res, verdict.status, { message: verdict.error.message, extensions: { code: verdict.error.code } });
      }
      if (verdict && verdict.request !== request) {
        if (urlSearch === undefined) body = verdict.request;
        else search = searchOf(urlSearch, verdict.request);
      }
    }
    if (req.method === 'POST' && options.streams?.takes(req, body)) {
      scope.streamed = true;
      return options.streams.serve(req, res, body);
    }

    const sqlStats = (scope.sql = newSqlStats());
    // One viewer and one context for the request, whether the cache or GraphQL answers it.
    let context: Promise<Context> | undefined;
    const contextOnce = () =>
      (context ??= options.viewerFrom(req.headers.authorization).then((viewer) => options.contextFor(viewer, sqlStats, req.socket.remoteAddress)));
    const planned = options.responseCache && isPlainObject(body) ? options.responseCache.plan(body as GraphQLBody) : null;
    const answer = await countSqlIn(sqlStats, async () => {
      const data = planned ? await options.responseCache!.lookup(planned, async (clubId) => options.mayReadReports(await contextOnce(), clubId)) : null;
      if (data !== null) return { data };
      const known = body === undefined ? undefined : options.known.find(body, { contentType, accept: req.headers.accept });
      if (req.method === 'POST') options.metrics.cacheLookup('documents', known ? 'hit' : 'miss');
      if (known) {
        // A context that cannot be made is Apollo's to report, as for any request.
        const scope = await contextOnce().catch(() => undefined);
        if (scope) return { response: await options.known.run(known, scope) };
      }
      const response = await options.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: req.method?.toUpperCase() ?? 'GET',
          headers: headerMapOf(req),
          search: search ?? searchOfUrl(),
          body,
        },
        context: contextOnce,
      });
      return { response };
    });

    if (answer.data !== undefined) {
      if (options.rateLimiter) {
        const { viewer } = await contextOnce();
        try {
          await options.rateLimiter.consume('query', rateLimitKey(viewer.kind === 'user' ? viewer.principal.subject : undefined, req.socket.remoteAddress));
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          const { http: _http, ...extensions } = error.extensions as { http?: unknown; retryAfter?: number };
          res.setHeader('retry-after', String(extensions.retryAfter));
          return sendJsonError(res, 429, { message: error.message, extensions });
        }
      }
      const elapsedMs = performance.now() - started;
      options.metrics.cacheLookup('response', 'hit');
      const operationName = cachedOperationName(body as GraphQLBody);
      scope.operation = options.metrics.operationLabel(operationName);
      if (scope.span) {
        nameOperationSpan(scope.span, operationName, 'query');
        scope.span.setAttribute('nightgraph.response_cache', 'hit');
      }
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader(
        'Server-Timing',
        `sql;dur=${sqlStats.durationMs.toFixed(2)};desc="${sqlStats.statements} statements", cache;desc="hit", total;dur=${elapsedMs.toFixed(2)}`,
      );
      const sql = `{"statements":${sqlStats.statements},"durationMs":${Number(sqlStats.durationMs.toFixed(3))}}`;
      res.end(options.sqlStatsInExtensions ? `{"data":${answer.data},"extensions":{"sql":${sql},"responseCache":"hit"}}` : `{"data":${answer.data}}`);
      return;
    }

    const { response } = answer;
    const elapsedMs = performance.now() - started;
    res.statusCode = response.status ?? 200;
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.setHeader(
      'Server-Timing',
      `sql;dur=${sqlStats.durationMs.toFixed(2)};desc="${sqlStats.statements} statements", total;dur=${elapsedMs.toFixed(2)}`,
    );
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      if (planned && context && res.statusCode === 200) {
        options.responseCache!.remember(planned, await context, response.body.string);
      }
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
  return withRequestScope(options.metrics, handle);
}

/**
 * Gives each request an id — the caller's `x-request-id` when sane, else a new one —
 * returned in `x-request-id` and carried by every log line written while serving it, and
 * records the request's time, outcome and SQL under its operation's label (set by the
 * Apollo plugin once the document is valid, see `requestAccounting`). With tracing on, the
 * request is one span — continuing the caller's `traceparent` — that the statements and
 * Redis calls it causes are children of; a multipart subscription's span lasts as long as
 * its stream, as a streaming call's does.
 */
function withRequestScope(metrics: Metrics, handle: (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => Promise<void>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const scope: RequestScope = { requestId: requestIdFrom(req.headers['x-request-id']) };
    res.setHeader('x-request-id', scope.requestId);
    // Checked here so that an untraced request does not even build the span's attributes.
    const traced = tracingEnabled()
      ? startSpan(unresolvedOperation, {
          kind: SpanKind.SERVER,
          carrier: req.headers,
          attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': '/graphql', 'nightgraph.request_id': scope.requestId },
        })
      : undefined;
    scope.span = traced?.span;
    const started = performance.now();
    let failed = false;
    try {
      await inSpan(traced, () => inRequest(scope, () => handle(req, res, scope)));
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      const outcome = failed ? 'error' : (scope.outcome ?? (res.statusCode >= 400 ? 'rejected' : 'ok'));
      if (!scope.streamed) metrics.requestServed({ operation: scope.operation, outcome, seconds: (performance.now() - started) / 1000, sql: scope.sql });
      if (traced) endOperationSpan(traced.span, outcome, scope.sql, { 'http.response.status_code': res.statusCode });
    }
  };
}

/** A GET's request, as its URL carries it (Apollo's GET parameters and the persisted documents' `documentId`). */
function requestOfSearch(search: string): DocumentRequest {
  const params = new URLSearchParams(search);
  const request: DocumentRequest = {};
  for (const name of ['query', 'operationName', 'documentId']) {
    const value = params.get(name);
    if (value !== null) request[name] = value;
  }
  const extensions = params.get('extensions');
  if (extensions !== null) {
    try {
      request.extensions = JSON.parse(extensions);
    } catch {
      // Names no document; Apollo refuses the JSON itself.
      request.extensions = extensions;
    }
  }
  return request;
}

/** `search` with the resolved request's document in `query`, and without the id that named it. */
function searchOf(search: string, resolved: DocumentRequest): string {
  const params = new URLSearchParams(search);
  params.set('query', resolved.query as string);
  params.delete('documentId');
  if (resolved.extensions === undefined) params.delete('extensions');
  else params.set('extensions', JSON.stringify(resolved.extensions));
  return `?${params}`;
}

function headerMapOf(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

const QUERY_NAME = /^(?:[\s,\ufeff]|#[^\n\r]*)*query[\s,]+([_A-Za-z][_0-9A-Za-z]*)/;

/**
 * The operation a response-cache hit answers, named as GraphQL would name it: the cache
 * holds only results of valid documents with one query operation.
 */
function cachedOperationName(body: GraphQLBody): string | undefined {
  if (typeof body.operationName === 'string') return body.operationName;
  return typeof body.query === 'string' ? QUERY_NAME.exec(body.query)?.[1] : undefined;
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJsonError(res, status, { message, extensions: { code: 'BAD_USER_INPUT' } });
}

function sendJsonError(res: ServerResponse, status: number, error: { message: string; extensions: Record<string, unknown> }): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ errors: [error] }));
}
