import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../platform/logger.js';

/** Beyond SHUTDOWN_TIMEOUT_SECONDS, the time `stop` may take to cut off what overran it before the process exits anyway. */
export const FORCED_EXIT_GRACE_MS = 1_000;

/** Undoes one step of starting up: stops a loop, closes a connection. */
export type Cleanup = () => Promise<unknown> | unknown;

export interface ShutdownParts {
  /** The listening server; undefined if starting never got that far. */
  server: Server | undefined;
  /** Closes the WebSockets with 1001 and ends the HTTP result streams; called once the listener has closed. */
  closeStreams(): Promise<void>;
  /** In the order they were registered; run in reverse, and the list is emptied. */
  cleanups: Cleanup[];
  /** SHUTDOWN_TIMEOUT_SECONDS */
  timeoutSeconds: number;
  logger: Logger;
}

/**
 * Stops within SHUTDOWN_TIMEOUT_SECONDS: no new connections, in-flight requests (and
 * their transactions) finish, WebSockets close with 1001 (going away) and event and
 * multipart streams end, background loops
 * finish their unit of work, then Redis and the database close. Past the bound whatever
 * is left is cut off and this rejects (the process then exits anyway: an open
 * transaction dies with its connection, and PostgreSQL releases its locks).
 */
export async function shutDown({ server, closeStreams, cleanups, timeoutSeconds, logger }: ShutdownParts): Promise<void> {
  const deadline = performance.now() + timeoutSeconds * 1000;
  const left = () => Math.max(0, deadline - performance.now());
  const cutOff: string[] = [];
  if (server) {
    // Connections the kernel has queued are taken first (an event loop turn): closing a
    // listener resets them, and their clients have sent requests already.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // The listener closes now, and connections without a request in progress with it;
    // requests arriving on the others are answered with `Connection: close`, and each
    // connection is closed once its response is out.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => res.setHeader('connection', 'close'));
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    // An open upgraded socket or event stream would keep the HTTP server from closing.
    const websockets = closeStreams();
    if (!(await within(left(), Promise.all([closed, websockets])))) {
      cutOff.push('HTTP requests and WebSockets');
      server.closeAllConnections();
    }
    clearInterval(idle);
  }
  for (const cleanup of cleanups.splice(0).reverse()) {
    const done = Promise.resolve()
      .then(cleanup)
      .catch((error: unknown) => logger.warn({ err: error }, 'error while stopping'));
    if (!(await within(left(), done)) && !cutOff.includes('background work, Redis or the database')) {
      cutOff.push('background work, Redis or the database');
    }
  }
  if (cutOff.length > 0) {
    throw new Error(`Shutdown took longer than SHUTDOWN_TIMEOUT_SECONDS (${timeoutSeconds} s); cut off: ${cutOff.join('; ')}`);
  }
}

/** Whether `work` settled within `ms` (it goes on either way). */
async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true, () => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
