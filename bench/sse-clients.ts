import { request, Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { OnMessage } from './ws-clients.js';

/** One connection per subscriber, never pooled: what 10,000 browsers on EventSource would hold. */
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

/**
 * A graphql-sse subscriber in the distinct-connections mode: one POST with
 * `accept: text/event-stream`. Every `next` event's data goes to `onNext` as it arrives
 * (split at the blank line that ends an event, never parsed); resolves once the first came.
 */
export function subscribeSse(
  url: string,
  payload: Record<string, unknown>,
  onNext: OnMessage,
  onLost: (reason: string) => void,
  timeoutMs: number,
): Promise<{ terminate(): void }> {
  return new Promise((resolve, reject) => {
    let subscribed = false;
    const body = JSON.stringify(payload);
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': Buffer.byteLength(body) },
    });
    const handle = { terminate: () => req.destroy() };
    const timer = setTimeout(() => fail(`no first event within ${timeoutMs} ms`), timeoutMs);
    function fail(reason: string) {
      clearTimeout(timer);
      if (subscribed) return onLost(reason);
      subscribed = true;
      req.destroy();
      reject(new Error(reason));
    }
    req.on('response', (res) => {
      if (res.statusCode !== 200) return fail(`status ${res.statusCode}`);
      let pending: Buffer = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        const at = performance.now();
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        for (let end = pending.indexOf('\n\n'); end !== -1; end = pending.indexOf('\n\n')) {
          const event = pending.subarray(0, end);
          pending = pending.subarray(end + 2);
          if (event.indexOf('event: next') !== 0) {
            if (event.indexOf('event: complete') === 0) fail('complete');
            continue;
          }
          onNext(event, at);
          if (!subscribed) {
            subscribed = true;
            clearTimeout(timer);
            resolve(handle);
          }
        }
      });
      res.on('close', () => fail('stream closed'));
    });
    req.on('error', (error) => fail(error.message));
    req.end(body);
  });
}
