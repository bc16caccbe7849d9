import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { ErrorCode } from '../errors.js';
import type { Viewer } from '../platform/auth.js';
import type { Logger } from '../platform/logger.js';
import type { TokenService } from '../platform/tokens.js';
import { readGraphQLBody } from './request-body.js';
import { OpenStreams, pump, writeMessage } from './result-streams.js';
import { streamError, type OperationRequest, type SubscriptionOperations } from './subscription-operations.js';

/** graphql-sse's names: the header (or query parameter) that carries a reserved stream's token. */
const TOKEN_HEADER = 'x-graphql-event-stream-token';
const TOKEN_PARAMETER = 'token';
/** A comment line every this often keeps proxies from closing a quiet stream (graphql-sse's own interval). */
const KEEP_ALIVE_MS = 12_000;
/** A stream reserved with PUT and never opened is forgotten after this long. */
const RESERVATION_MS = 60_000;

const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // Proxies such as nginx would otherwise buffer the stream.
  'x-accel-buffering': 'no',
};

export interface EventStreamDeps {
  tokens: TokenService;
  operations: SubscriptionOperations;
  maxBodyBytes: number;
  logger: Logger;
}

/** A stream of the single connection mode: reserved by PUT, opened by GET, fed by POSTs. */
interface ReservedStream {
  /** Who reserved it: only the same viewer may open it or run operations on it. */
  owner: string;
  res: ServerResponse | undefined;
  operations: Map<string, { stop(): void }>;
  expiry: ReturnType<typeof setTimeout> | undefined;
}

/**
 * GraphQL over Server-Sent Events at `/graphql/stream`, the protocol of the graphql-sse
 * package (its client works unchanged) in both of its modes:
 * - distinct connections: one GET or POST with `accept: text/event-stream` per operation,
 *   answered with `next` events and a `complete`;
 * - single connection: PUT reserves a stream (its token in the body), GET opens it, each
 *   POST with the token runs an operation on it (202) and DELETE `?operationId=` stops one;
 *   events carry `{ id, payload }`.
 * Every operation goes through the rules of all streaming transports (subscription-operations.ts),
 * and a shared result is written as the bytes encoded once for all its subscribers. Written
 * here rather than with graphql-sse's handler because that one serializes each result per
 * stream and queues messages without bound for a slow client; this one sends the shared
 * bytes and takes the next result only once the last is out (so a slow client gets the
 * latest snapshot).
 */
export function createEventStreams({ tokens, operations, maxBodyBytes, logger }: EventStreamDeps) {
  const open = new OpenStreams();
  const reserved = new Map<string, ReservedStream>();

  /** Starts an event stream on `res`; returns the function that ends it. */
  const begin = (res: ServerResponse, onEnd: () => void) => {
    res.writeHead(200, EVENT_STREAM_HEADERS);
    // Some browsers wait for a first byte before they report the stream open.
    res.write(':\n\n');
    const keepAlive = setInterval(() => res.write(':\n\n'), KEEP_ALIVE_MS);
    keepAlive.unref();
    const unregister = open.add(() => end());
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      unregister();
      onEnd();
      res.end();
    };
    res.once('close', end);
    return end;
  };

  /** Runs a prepared operation onto a stream, each result wrapped as `envelope` says; resolves when it ends. */
  const stream = (viewer: Viewer, address: string | undefined, request: OperationRequest, send: (result: ExecutionResult | { errors: readonly GraphQLError[] }) => Promise<boolean>) => {
    let stopped = false;
    let running: { stop(): void } | undefined;
    const done = (async () => {
      const prepared = await operations.prepare(viewer, address, request, 'sse');
      if (stopped) return;
      if (Array.isArray(prepared)) return void (await send({ errors: prepared as readonly GraphQLError[] }));
      const results = await operations.run(prepared as never);
      if (stopped) return void (Symbol.asyncIterator in results ? results[Symbol.asyncIterator]().return?.() : undefined);
      const pumping = pump(results, send);
      running = pumping;
      if (Symbol.asyncIterator in results) open.track(pumping.done);
      const failure = await pumping.done;
      if (failure) logger.error({ err: failure }, 'an event stream operation failed');
    })();
    return {
      done,
      stop() {
        stopped = true;
        running?.stop();
      },
    };
  };

  const distinct = async (req: IncomingMessage, res: ServerResponse, viewer: Viewer, sent: OperationRequest) => {
    // The document first: a GET must not run a mutation, whether it sent the text or named it by id.
    const admitted = operations.admitDocument(sent, 'sse');
    const request = admitted.kind === 'run' ? (admitted.request as unknown as OperationRequest) : sent;
    if (
      admitted.kind === 'run' &&
      req.method === 'GET' &&
      typeof request.query === 'string' &&
      operations.operationType(request.query, request.operationName as string | undefined) === 'mutation'
    ) {
      res.setHeader('allow', 'POST');
      return sendErrors(res, 405, 'Mutations are sent with POST', ErrorCode.BAD_USER_INPUT);
    }
    let operation: { stop(): void } | undefined;
    const end = begin(res, () => operation?.stop());
    const next = (result: ExecutionResult | { errors: readonly GraphQLError[] }) =>
      writeMessage(res, ['event: next\ndata: ', operations.encode(result as ExecutionResult).subarray(0, -1), '\n\n']);
    if (admitted.kind === 'refused') {
      // As any other error before the first result: the stream's one result.
      await next({ errors: [streamError(admitted.error)] });
    } else {
      const running = stream(viewer, req.socket.remoteAddress, request, next);
      operation = running;
      await running.done;
    }
    await writeMessage(res, ['event: complete\ndata:\n\n']);
    end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const viewer = await tokens.viewerFrom(req.headers.authorization);
    if (viewer.kind === 'anonymous' && viewer.tokenProblem) return sendErrors(res, 401, `Sign in again: ${viewer.tokenProblem}`, ErrorCode.UNAUTHENTICATED);
    const owner = viewer.kind === 'user' ? viewer.principal.subject : '';
    const header = req.headers[TOKEN_HEADER];
    const streamToken = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get(TOKEN_PARAMETER) ?? undefined;
    const accept = req.headers.accept ?? '*/*';
    const wantsEvents = accept.includes('text/event-stream');
    const mine = streamToken === undefined ? undefined : reserved.get(streamToken);
    if (streamToken !== undefined && (!mine || mine.owner !== owner)) return sendErrors(res, 404, 'Stream not found', ErrorCode.NOT_FOUND);

    if (wantsEvents && (req.method === 'GET' || req.method === 'POST')) {
      if (mine) {
        // Opens a reserved stream.
        if (mine.res) return sendErrors(res, 409, 'Stream already open', ErrorCode.CONFLICT);
        clearTimeout(mine.expiry);
        mine.res = res;
        begin(res, () => {
          reserved.delete(streamToken!);
          for (const operation of mine.operations.values()) operation.stop();
          mine.operations.clear();
        });
        return;
      }
      const request = await requestOf(req, url);
      if ('refused' in request) return sendErrors(res, request.status, request.refused, ErrorCode.BAD_USER_INPUT);
      return distinct(req, res, viewer, request);
    }
    if (req.method === 'PUT') {
      if (!['*/*', 'text/plain'].some((type) => accept.includes(type))) return sendErrors(res, 406, 'A stream is reserved with accept: text/plain', ErrorCode.BAD_USER_INPUT);
      const token = randomUUID();
      const stream: ReservedStream = { owner, res: undefined, operations: new Map(), expiry: undefined };
      stream.expiry = setTimeout(() => {
        if (!stream.res) reserved.delete(token);
      }, RESERVATION_MS);
      stream.expiry.unref();
      reserved.set(token, stream);
      res.writeHead(201, { 'content-type': 'text/plain; charset=utf-8' }).end(token);
      return;
    }
    if (!mine) return sendErrors(res, 404, 'Send accept: text/event-stream, or reserve a stream with PUT first', ErrorCode.NOT_FOUND);
    if (req.method === 'POST') {
      const request = await requestOf(req, url);
      if ('refused' in request) return sendErrors(res, request.status, request.refused, ErrorCode.BAD_USER_INPUT);
      const id = operationIdOf(request);
      if (!id) return sendErrors(res, 400, 'An operation on a stream needs extensions.operationId', ErrorCode.BAD_USER_INPUT);
      if (!mine.res) return sendErrors(res, 409, 'The stream is not open yet', ErrorCode.CONFLICT);
      if (mine.operations.has(id)) return sendErrors(res, 409, `Operation ${JSON.stringify(id)} is already running`, ErrorCode.CONFLICT);
      const target = mine.res;
      const envelope = `event: next\ndata: {"id":${JSON.stringify(id)},"payload":`;
      const running = stream(viewer, req.socket.remoteAddress, request, (result) => writeMessage(target, [envelope, operations.encode(result as ExecutionResult), '\n\n']));
      mine.operations.set(id, running);
      void running.done.then(async () => {
        if (mine.operations.get(id) !== running) return;
        mine.operations.delete(id);
        await writeMessage(target, [`event: complete\ndata: {"id":${JSON.stringify(id)}}\n\n`]);
      });
      res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    if (req.method === 'DELETE') {
      const id = url.searchParams.get('operationId');
      if (!id) return sendErrors(res, 400, 'DELETE needs ?operationId=', ErrorCode.BAD_USER_INPUT);
      // Stopping ends the operation's results; the `complete` that follows says so on the stream.
      mine.operations.get(id)?.stop();
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    res.setHeader('allow', 'GET, POST, PUT, DELETE');
    sendErrors(res, 405, `${req.method} is not used on an event stream`, ErrorCode.BAD_USER_INPUT);
  };

  /** The operation of a GET (query string) or POST (JSON body) request. */
  const requestOf = async (req: IncomingMessage, url: URL): Promise<OperationRequest | { refused: string; status: 400 | 413 }> => {
    if (req.method === 'GET') {
      const params = url.searchParams;
      try {
        return {
          query: params.get('query') ?? undefined,
          operationName: params.get('operationName') ?? undefined,
          ...(params.has('documentId') ? { documentId: params.get('documentId') } : {}),
          variables: params.has('variables') ? JSON.parse(params.get('variables')!) : undefined,
          ...(params.has('extensions') ? { extensions: JSON.parse(params.get('extensions')!) } : {}),
        };
      } catch {
        return { refused: 'variables and extensions must be JSON', status: 400 };
      }
    }
    const read = await readGraphQLBody(req, maxBodyBytes);
    if (read.kind === 'refused') return { refused: read.message, status: read.status };
    if (typeof read.body !== 'object' || read.body === null || Array.isArray(read.body)) return { refused: 'The body must be a JSON object', status: 400 };
    return read.body as OperationRequest;
  };

  return {
    handle,
    activeSubscriptions: () => open.activeSubscriptions(),
    /** Ends every stream: the client's retry finds another instance. */
    close: () => open.closeAll(),
  };
}

function operationIdOf(request: OperationRequest): string | undefined {
  const extensions = (request as { extensions?: unknown }).extensions;
  const id = typeof extensions === 'object' && extensions !== null ? (extensions as { operationId?: unknown }).operationId : undefined;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

function sendErrors(res: ServerResponse, status: number, message: string, code: ErrorCode): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}
