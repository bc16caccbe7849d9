import { request } from 'node:http';
import { connect } from 'node:net';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

// What is open when a server is told to stop: a dashboard's subscription, requests in
// flight, and the listener new connections meet.

export const HOLD = 'mutation($input: HoldTableInput!) { holdTable(input: $input) { id status } }';
export const LIVE = 'subscription($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }';

/** A dashboard's WebSocket: what it received, and the close code it saw. */
export function dashboard(url: string, nightId: string) {
  let closeCode: number | undefined;
  const results: unknown[] = [];
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    on: { closed: (event) => void (closeCode = (event as { code: number }).code) },
  });
  client.subscribe({ query: LIVE, variables: { nightId } }, { next: (r) => void results.push(r), error: () => {}, complete: () => {} });
  return { results, closeCode: () => closeCode, dispose: () => client.dispose() };
}

/**
 * Posts a GraphQL operation on a connection of its own (fetch may hold a request back to
 * reuse a connection), and says when the request is written out, i.e. in flight.
 */
export function post(url: string, query: string, variables: Record<string, unknown>, token: string) {
  let written!: () => void;
  const sent = new Promise<void>((resolve) => (written = resolve));
  const response = new Promise<{ status: number; body: { data?: any; errors?: unknown[] } }>((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query, variables }), written);
  });
  return { sent, response };
}

/** Whether a new TCP connection to `port` is accepted (the listener is open) or refused. */
export const tryConnect = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });

