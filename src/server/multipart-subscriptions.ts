import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import type { TokenService } from '../platform/tokens.js';
import { OpenStreams, pump, writeMessage } from './result-streams.js';
import type { OperationRequest, SubscriptionOperations } from './subscription-operations.js';

/** What a client sends to ask for this protocol (Apollo Client: `multipart/mixed;boundary=graphql;subscriptionSpec=1.0`). */
const ACCEPTS = /multipart\/mixed[^,]*;\s*subscriptionSpec\s*=\s*"?1\.0"?/i;
const CONTENT_TYPE = 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"';
/**
 * Each part ends with the boundary that follows it, so a client can take a part as soon
 * as it arrives (a parser that splits at boundaries would otherwise hold it until the next).
 */
const BOUNDARY = '\r\n--graphql';
const PART = '\r\ncontent-type: application/json; charset=utf-8\r\n\r\n';
/** After the last boundary: it becomes the closing one. */
const END = '--\r\n';
/** An empty part this often keeps the connection (and proxies) from timing out, as Apollo's router does. */
const HEARTBEAT_MS = 5_000;

export interface MultipartDeps {
  tokens: TokenService;
  operations: SubscriptionOperations;
  logger: Logger;
}

/**
 * Apollo's multipart HTTP subscription protocol on `POST /graphql`: a subscription sent
 * with `accept: multipart/mixed;subscriptionSpec="1.0"` is answered with one part per
 * result (`{"payload": …}`), a heartbeat part `{}` every 5 s, and the closing boundary when
 * it ends; an error of the transport itself is a last part `{"payload": null, "errors": […]}`.
 * Apollo Client uses it for subscriptions on a plain HttpLink. The rules are those of every
 * streaming transport (subscription-operations.ts), and shared results go out as the bytes
 * encoded once for all their subscribers.
 */
export function createMultipartSubscriptions({ tokens, operations, logger }: MultipartDeps) {
  const open = new OpenStreams();
  return {
    /** Whether a POST is this protocol's: the accept header asks for it and the document is a subscription. */
    takes(req: IncomingMessage, body: unknown): boolean {
      if (!ACCEPTS.test(req.headers.accept ?? '')) return false;
      const request = body as OperationRequest | undefined;
      if (typeof request !== 'object' || request === null || typeof request.query !== 'string') return false;
      const operationName = typeof request.operationName === 'string' ? request.operationName : undefined;
      return operations.operationType(request.query, operationName) === 'subscription';
    },

    async serve(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
      const viewer = await tokens.viewerFrom(req.headers.authorization);
      if (viewer.kind === 'anonymous' && viewer.tokenProblem) {
        return sendErrors(res, 401, [{ message: `Sign in again: ${viewer.tokenProblem}`, extensions: { code: ErrorCode.UNAUTHENTICATED } }]);
      }
      // POST /graphql checked the document first (graphql-http.ts): `prepare` lets what it passed through.
      const prepared = await operations.prepare(viewer, req.socket.remoteAddress, body as OperationRequest, 'http');
      if (Array.isArray(prepared)) {
        const errors = operations.format({ errors: prepared as readonly GraphQLError[] }).errors!;
        const code = errors[0]?.extensions?.code;
        return sendErrors(res, code === ErrorCode.RATE_LIMITED ? 429 : code === ErrorCode.UNAUTHENTICATED ? 401 : 400, errors);
      }
      const results = await operations.run(prepared as never);
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      // A first heartbeat puts the headers on the wire: the client knows the subscription is up.
      await writeMessage(res, [BOUNDARY, PART, '{}', BOUNDARY]);
      const heartbeat = setInterval(() => void writeMessage(res, [PART, '{}', BOUNDARY]), HEARTBEAT_MS);
      heartbeat.unref();
      const running = pump(results, (result: ExecutionResult) => writeMessage(res, [PART, '{"payload":', operations.encode(result), BOUNDARY]));
      if (Symbol.asyncIterator in results) open.track(running.done);
      let shuttingDown = false;
      const unregister = open.add(async () => {
        shuttingDown = true;
        running.stop();
        await running.done;
      });
      res.once('close', () => running.stop());
      const failure = await running.done;
      clearInterval(heartbeat);
      unregister();
      if (failure) logger.error({ err: failure }, 'a multipart subscription failed');
      const transportError = shuttingDown
        ? { message: 'The server is shutting down: subscribe again', extensions: { code: ErrorCode.UNAVAILABLE } }
        : failure
          ? { message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }
          : undefined;
      if (transportError) await writeMessage(res, [PART, JSON.stringify({ payload: null, errors: [transportError] }), BOUNDARY]);
      if (!res.destroyed) res.end(END);
    },

    activeSubscriptions: () => open.activeSubscriptions(),
    /** Ends every multipart subscription with an UNAVAILABLE part: the client subscribes again elsewhere. */
    close: () => open.closeAll(),
  };
}

function sendErrors(res: ServerResponse, status: number, errors: readonly unknown[]): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ errors }));
}
