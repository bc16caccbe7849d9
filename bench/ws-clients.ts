import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/** The bench receives every socket's copy of each event: no compression, no UTF-8 check. */
const CLIENT_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true };

/** Called with each frame as it arrives and the `performance.now()` of its arrival. */
export type OnMessage = (data: Buffer, at: number) => void;

/**
 * A raw graphql-transport-ws subscriber: connection_init, subscribe once acknowledged,
 * pong to every ping. Every `next` goes to `onNext`; resolves once the first one arrived.
 * Messages are never parsed whole: 10,000 subscribers parsing every event would measure
 * the bench's JSON.parse more than the server.
 */
export function subscribe(
  url: string,
  payload: Record<string, unknown>,
  onNext: OnMessage,
  onLost: (reason: string) => void,
  timeoutMs: number,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', CLIENT_OPTIONS);
    let subscribed = false;
    const timer = setTimeout(() => fail(`no first event within ${timeoutMs} ms`), timeoutMs);
    function fail(reason: string) {
      clearTimeout(timer);
      if (subscribed) return onLost(reason);
      subscribed = true; // settled: later failures of this socket are not reported again
      socket.terminate();
      reject(new Error(reason));
    }
    socket.on('open', () => socket.send('{"type":"connection_init","payload":{}}'));
    socket.on('message', (data: Buffer) => {
      const at = performance.now();
      const type = messageType(data);
      if (type === 'next') {
        onNext(data, at);
        if (!subscribed) {
          subscribed = true;
          clearTimeout(timer);
          resolve(socket);
        }
      } else if (type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
      } else if (type === 'ping') {
        socket.send('{"type":"pong"}');
      } else if (type === 'error' || type === 'complete') {
        fail(`${type}: ${data.toString('utf8', 0, 300)}`);
      }
    });
    socket.on('error', (error) => fail(error.message));
    socket.on('close', (code, reason) => fail(`closed with ${code} ${String(reason)}`));
  });
}

/** A plain WebSocket client; every message goes to `onMessage`. */
export function connect(url: string, onMessage: OnMessage, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, CLIENT_OPTIONS);
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`not open within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (data: Buffer) => onMessage(data, performance.now()));
    socket.once('open', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Opens `count` sockets, `batch` at a time, so the handshakes do not all queue at once.
 * Failures are counted (with the first reason), not thrown.
 */
export async function openInBatches<T>(
  count: number,
  batch: number,
  open: () => Promise<T>,
  progress: (opened: number) => void,
  signal: AbortSignal,
): Promise<{ sockets: T[]; failed: number; firstFailure: string | undefined }> {
  const sockets: T[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  for (let start = 0; start < count; start += batch) {
    signal.throwIfAborted();
    const settled = await Promise.allSettled(Array.from({ length: Math.min(batch, count - start) }, open));
    for (const outcome of settled) {
      if (outcome.status === 'fulfilled') sockets.push(outcome.value);
      else {
        failed += 1;
        firstFailure ??= outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
      }
    }
    progress(sockets.length);
  }
  return { sockets, failed, firstFailure };
}

/** The `type` of a graphql-transport-ws message, read from its first bytes. */
function messageType(data: Buffer): string | undefined {
  return /"type":"([a-z_]+)"/.exec(data.toString('latin1', 0, 64))?.[1];
}

/** The first `"version":N` of a message, without parsing it; -1 without one. */
export function versionOf(data: Buffer): number {
  const at = data.indexOf('"version":');
  if (at === -1) return -1;
  let version = 0;
  for (let i = at + 10; i < data.length && data[i]! >= 48 && data[i]! <= 57; i += 1) version = version * 10 + data[i]! - 48;
  return version;
}

/**
 * Throws, saying what to run, unless this process (and the servers it starts afterwards,
 * which inherit the limit) may open `needed` files. Node raises its soft limit to the
 * hard one at start-up, so the hard limit is what counts.
 */
export function checkOpenFiles(needed: number, log: (message: string) => void): void {
  let limits: string;
  try {
    limits = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return log(`cannot read the open-file limit here; if sockets fail, run ulimit -n ${needed} first`);
  }
  const soft = /Max open files\s+(\d+|unlimited)/.exec(limits)?.[1];
  if (soft === undefined || soft === 'unlimited' || Number(soft) >= needed) return;
  throw new Error(
    `${needed} open files are needed, the limit is ${soft}: raise it (ulimit -n ${needed}; as root, ulimit -Hn first) and run again`,
  );
}
