import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, handleProtocols, makeServer, type Context as SocketContext, type ServerOptions } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../platform/logger.js';
import type { OutgoingMessage } from './shared-subscriptions.js';

export interface WebSocketOptions<E> {
  /** graphql-ws server options (schema, context, hooks). */
  graphql: ServerOptions<Record<string, unknown> | undefined, E>;
  /** Rewrites each outgoing message just before it is sent (see shared subscriptions). */
  rewrite?: (data: string) => OutgoingMessage;
  /** Whether a browser page from this Origin may connect (no Origin: not a browser, allowed). */
  originAllowed: (origin: string, request: IncomingMessage) => boolean;
  logger: Logger;
  /** Milliseconds between pings; a client that misses a pong is dropped. */
  keepAliveMs?: number;
}

export interface Extra {
  socket: WebSocket;
  /** The client's network address: all a connection keeps of its upgrade request. */
  clientAddress: string | undefined;
}

/**
 * The only module that knows `ws`: serves graphql-ws on `/graphql` of the HTTP server.
 * Browsers from foreign origins are refused at the upgrade, before any GraphQL message
 * (CSRF protection does not cover WebSockets).
 */
export function attachWebSocket<E extends Extra>(httpServer: Server, options: WebSocketOptions<E>) {
  // Messages are capped like HTTP bodies (ws would accept 100 MiB).
  const wss = new WebSocketServer({ noServer: true, handleProtocols, maxPayload: 1024 * 1024 });
  // Subscriptions running now: ids by connection, so each one is counted down exactly once,
  // whether it completes, fails, is stopped by the client or ends with its socket.
  const running = new WeakMap<E, Set<string>>();
  let activeSubscriptions = 0;
  const stopped = (extra: E, id: string) => {
    if (running.get(extra)?.delete(id)) activeSubscriptions -= 1;
  };
  const { onOperation, onComplete } = options.graphql;
  type Ctx = SocketContext<Record<string, unknown> | undefined, E>;
  const server = makeServer({
    ...options.graphql,
    onOperation: async (ctx: Ctx, id, payload, args, result) => {
      const replaced = await onOperation?.(ctx, id, payload, args, result);
      const operation = replaced ?? result;
      if (typeof operation === 'object' && operation !== null && Symbol.asyncIterator in operation) {
        let ids = running.get(ctx.extra);
        if (!ids) running.set(ctx.extra, (ids = new Set()));
        if (!ids.has(id)) {
          ids.add(id);
          activeSubscriptions += 1;
        }
      }
      return replaced;
    },
    onComplete: async (ctx: Ctx, id, payload) => {
      stopped(ctx.extra, id);
      await onComplete?.(ctx, id, payload);
    },
  });
  const keepAliveMs = options.keepAliveMs ?? 12_000;
  const rewrite = options.rewrite ?? ((data: string): OutgoingMessage => data);
  /** Each WebSocket's TCP socket, corked while a message in parts is written. */
  const transports = new WeakMap<WebSocket, Duplex>();

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const origin = request.headers.origin;
    if (path !== '/graphql' || (origin !== undefined && !options.originAllowed(origin, request))) {
      socket.end(`HTTP/1.1 ${path !== '/graphql' ? '404 Not Found' : '403 Forbidden'}\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      transports.set(ws, socket);
      wss.emit('connection', ws, request);
    });
  };
  httpServer.on('upgrade', onUpgrade);

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.once('error', (error) => {
      options.logger.warn({ err: error }, 'websocket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    let alive = true;
    socket.on('pong', () => {
      alive = true;
    });
    const ping = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, keepAliveMs);
    ping.unref();

    const extra = { socket, clientAddress: request.socket.remoteAddress } as E;
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          // Rewrite first, whatever the socket's state: see `substitute` in shared-subscriptions.
          const message = rewrite(data);
          return new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            const sent = (error?: Error) => (error ? reject(error) : resolve());
            if (typeof message === 'string') return socket.send(message, sent);
            // One text message in two frames (RFC 6455 fragmentation), written to the
            // connection in one go: the shared bytes are not copied or encoded per socket.
            const [head, shared] = message;
            const transport = transports.get(socket);
            transport?.cork();
            socket.send(head, { fin: false });
            socket.send(shared, { binary: false, fin: true }, sent);
            transport?.uncork();
          });
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (message) => {
            handle(String(message)).catch((error: unknown) => {
              options.logger.error({ err: error }, 'websocket message failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      clearInterval(ping);
      void closed(code, String(reason)).finally(() => {
        // Whatever is still counted on this connection ended with it.
        for (const id of [...(running.get(extra) ?? [])]) stopped(extra, id);
      });
    });
  });

  return {
    /** GraphQL subscriptions running on this server's connections now. */
    activeSubscriptions: () => activeSubscriptions,
    /** Closes every connection with 1001 (going away) and stops accepting new ones. */
    async close(): Promise<void> {
      httpServer.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
