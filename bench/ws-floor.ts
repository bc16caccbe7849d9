/**
 * The floor for fan-out: a bare `ws` server, in a process of its own like the real one,
 * that sends one fixed message to every client when the parent says so. No GraphQL, no
 * pub/sub, no database: what broadcasting the same bytes costs `ws` and the kernel.
 *
 * IPC: sends `{ port }` once listening; takes `{ payload }` (the text to send) and
 * `{ broadcast: true }`, answered with `{ sendMs }`, how long the send loop took.
 */
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
let payload = '';

wss.on('listening', () => process.send!({ port: (wss.address() as AddressInfo).port }));
process.on('message', (message: { payload?: string; broadcast?: boolean }) => {
  if (message.payload !== undefined) payload = message.payload;
  // As the real server does: one text frame per client from the same string.
  if (message.broadcast) {
    const started = performance.now();
    for (const client of wss.clients) client.send(payload);
    process.send!({ sendMs: performance.now() - started });
  }
});
process.on('disconnect', () => process.exit(0));
