import type { ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';

/**
 * Writes one message to a streaming response in one go (corked), then waits while the
 * client is slower than the stream: the next result is taken only once this one is out,
 * so a slow client is sent the latest result rather than a growing queue of old ones.
 * False once the response has closed.
 */
export async function writeMessage(res: ServerResponse, parts: readonly (string | Buffer)[]): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  res.cork();
  let flowing = true;
  for (const part of parts) flowing = res.write(part);
  res.uncork();
  if (!flowing) {
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  return !res.destroyed;
}

/**
 * Sends each result of an operation with `send` until the results end, `send` reports
 * the response gone, or `stop` is called. `done` resolves once it has ended either way,
 * with what went wrong if something threw (it never rejects).
 */
export function pump(
  results: AsyncIterable<ExecutionResult> | ExecutionResult,
  send: (result: ExecutionResult) => Promise<boolean>,
): { done: Promise<unknown>; stop(): void } {
  if (!(Symbol.asyncIterator in results)) {
    return { done: send(results).then(() => undefined, (error: unknown) => error), stop() {} };
  }
  const iterator = results[Symbol.asyncIterator]();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    void iterator.return?.();
  };
  const done = (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done || stopped) break;
        if (!(await send(next.value))) break;
      }
      return undefined;
    } catch (error) {
      return error;
    } finally {
      stop();
    }
  })();
  return { done, stop };
}

/** Streaming responses open now, so shutdown can end them and metrics can count them. */
export class OpenStreams {
  private readonly ends = new Set<() => Promise<void> | void>();
  private running = 0;

  /** Registers how to end a stream at shutdown; returns the function that unregisters it. */
  add(end: () => Promise<void> | void): () => void {
    this.ends.add(end);
    return () => this.ends.delete(end);
  }

  /** Counts a subscription while `done` is pending. */
  track(done: Promise<unknown>): void {
    this.running += 1;
    void done.finally(() => {
      this.running -= 1;
    });
  }

  /** Subscriptions running on these streams now. */
  activeSubscriptions(): number {
    return this.running;
  }

  /** Ends every stream (each says why in its own protocol). */
  async closeAll(): Promise<void> {
    const ends = [...this.ends];
    this.ends.clear();
    await Promise.all(ends.map(async (end) => end()));
  }
}
