import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { Context } from '../graphql/context.js';
import type { Viewer } from '../platform/auth.js';
import { countSqlIn, newSqlStats, type SqlStats } from '../platform/sql-stats.js';
import type { Metrics } from './metrics.js';
import { isPlainObject, type GraphQLBody, type ResponseCache } from './response-cache.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface GraphQLHttpOptions {
  apollo: ApolloServer<Context>;
  viewerFrom(authorization: string | undefined): Promise<Viewer>;
  contextFor(viewer: Viewer, sqlStats: SqlStats): Context;
  metrics: Metrics;
  /** Serves repeated availability reads without GraphQL; absent when disabled. */
  responseCache: ResponseCache | undefined;
  sqlStatsInExtensions: boolean;
}

/**
 * Serves Apollo on a plain Node request: parses the body, counts the SQL the request
 * causes, and reports it in a `Server-Timing` header (and in `extensions`, see the plugin).
 */
export function createGraphQLHandler(options: GraphQLHttpOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readBody(req);
      if (read.kind === 'too-large') return sendError(res, 413, `Request body exceeds ${MAX_BODY_BYTES} bytes`);
      if ((headers.get('content-type') ?? '').includes('json')) {
        try {
          body = JSON.parse(read.text);
        } catch {
          return sendError(res, 400, 'Request body is not valid JSON');
        }
        if (containsNul(body)) return sendError(res, 400, NUL_MESSAGE);
      } else {
        body = read.text;
      }
    }

    const cacheable = options.responseCache && isPlainObject(body) ? (body as GraphQLBody) : undefined;
    if (cacheable) {
      const data = await options.responseCache!.lookup(cacheable);
      if (data !== null) {
        const elapsedMs = performance.now() - started;
        options.metrics.requestDuration.observe(elapsedMs / 1000);
        options.metrics.statementsPerRequest.observe(0);
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.setHeader('Server-Timing', `sql;dur=0.00;desc="0 statements", cache;desc="hit", total;dur=${elapsedMs.toFixed(2)}`);
        res.end(
          options.sqlStatsInExtensions
            ? `{"data":${data},"extensions":{"sql":{"statements":0,"durationMs":0},"responseCache":"hit"}}`
            : `{"data":${data}}`,
        );
        return;
      }
    }

    const sqlStats = newSqlStats();
    let context: Context | undefined;
    const response = await countSqlIn(sqlStats, () =>
      options.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: req.method?.toUpperCase() ?? 'GET',
          headers,
          search: new URL(req.url ?? '/', 'http://localhost').search,
          body,
        },
        context: async () => (context = options.contextFor(await options.viewerFrom(headers.get('authorization')), sqlStats)),
      }),
    );

    const elapsedMs = performance.now() - started;
    options.metrics.requestDuration.observe(elapsedMs / 1000);
    options.metrics.statementsPerRequest.observe(sqlStats.statements);
    res.statusCode = response.status ?? 200;
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.setHeader(
      'Server-Timing',
      `sql;dur=${sqlStats.durationMs.toFixed(2)};desc="${sqlStats.statements} statements", total;dur=${elapsedMs.toFixed(2)}`,
    );
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      if (cacheable && context && res.statusCode === 200) {
        options.responseCache!.remember(cacheable, context.availabilityVersions, response.body.string);
      }
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

export const NUL_MESSAGE = 'Text must not contain NUL characters (U+0000)';

/** True if any string in the parsed JSON holds a NUL character: no stored text can contain one. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => containsNul(k) || containsNul(v));
  return false;
}

async function readBody(req: IncomingMessage): Promise<{ kind: 'ok'; text: string } | { kind: 'too-large' }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { kind: 'too-large' };
    chunks.push(chunk);
  }
  return { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') };
}

function sendError(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] }));
}
