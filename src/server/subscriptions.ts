import type { IncomingMessage, Server } from 'node:http';
import type { Viewer } from '../platform/auth.js';
import type { TokenService } from '../platform/tokens.js';
import type { Logger } from '../platform/logger.js';
import type { SubscriptionOperations } from './subscription-operations.js';
import { attachWebSocket, type Extra } from './ws.js';

type SocketExtra = Extra & { viewer?: Viewer };

export interface WebSocketDeps {
  tokens: TokenService;
  operations: SubscriptionOperations;
  /** Browser origins, besides the server's own, allowed to open a WebSocket. */
  allowedOrigins: string[];
  logger: Logger;
}

/**
 * GraphQL over WebSocket (graphql-ws) on `/graphql`, with the rules every streaming
 * transport has (see subscription-operations.ts): the token checked at connect and again
 * at each operation, and foreign browser origins refused at the upgrade.
 */
export function attachSubscriptions(server: Server, { tokens, operations, allowedOrigins, logger }: WebSocketDeps) {
  const { shared, format } = operations;
  return attachWebSocket<SocketExtra>(server, {
    logger,
    rewrite: shared.substitute,
    originAllowed: (origin, request) => originAllowed(origin, request, allowedOrigins),
    graphql: {
      // The same run as the HTTP transports: shared where public, traced when tracing is on.
      subscribe: operations.run,
      execute: operations.run,
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
      onSubscribe: async (ctx, _id, payload) =>
        operations.prepare(ctx.extra.viewer ?? { kind: 'anonymous' }, ctx.extra.clientAddress, payload, 'graphql-ws') as Promise<never>,
    },
  });
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
