import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { RedisErrorHandler } from './redis.js';

export type Unsubscribe = () => Promise<void>;

/**
 * Fan-out of messages between instances. Messages are strings (callers serialize once);
 * delivery is at-most-once, so anything that must not be lost goes through the outbox.
 */
export interface PubSub {
  publish(topic: string, message: string): Promise<void>;
  /**
   * Resolves once the subscription is active: a message published after that is delivered
   * (while Redis is unreachable, only messages published by this instance).
   */
  subscribe(topic: string, onMessage: (message: string) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}

/** One process only: the embedded default. */
export function createMemoryPubSub(): PubSub {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(topic, message) {
      emitter.emit(topic, message);
    },
    async subscribe(topic, onMessage) {
      emitter.on(topic, onMessage);
      return async () => {
        emitter.off(topic, onMessage);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/** How often topics whose SUBSCRIBE failed are tried again while the connection stays up. */
const RESUBSCRIBE_RETRY_MS = 1_000;

/**
 * Redis pub/sub across instances. One subscriber connection per process, whatever the
 * number of local listeners: a topic is SUBSCRIBEd when its first listener arrives and
 * UNSUBSCRIBEd when its last one leaves.
 *
 * Without Redis it keeps working within the instance: a message whose PUBLISH fails, or
 * that Redis cannot hand back because the subscriber connection is down, is delivered to
 * this instance's listeners directly (once: when both connections are up it arrives only
 * through Redis). `publish` still rejects after a failed PUBLISH, so callers that must
 * reach other instances retry. A listener added while Redis is away is kept and
 * SUBSCRIBEd when the connection is ready again, as ioredis re-SUBSCRIBEs the others.
 * Messages published elsewhere while the connection was down are lost (at-most-once):
 * snapshot feeds re-read the shared store to catch up.
 */
export function createRedisPubSub(publisher: Redis, subscriber: Redis, prefix: string, onError: RedisErrorHandler = () => {}): PubSub {
  const local = new EventEmitter();
  local.setMaxListeners(0);
  /** Topics with listeners but no SUBSCRIBE in effect, and topics left SUBSCRIBEd without listeners. */
  const toSubscribe = new Set<string>();
  const toUnsubscribe = new Set<string>();
  let retry: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const onMessage = (channel: string, message: string) => {
    if (channel.startsWith(prefix)) local.emit(channel.slice(prefix.length), message);
  };
  subscriber.on('message', onMessage);

  const scheduleRetry = () => {
    if (closed) return;
    retry ??= setTimeout(() => {
      retry = undefined;
      void settle();
    }, RESUBSCRIBE_RETRY_MS);
    retry.unref?.();
  };
  /** Brings Redis's subscriptions in line with the listeners; tries again later if Redis fails. */
  async function settle(): Promise<void> {
    if (closed || subscriber.status !== 'ready') return;
    for (const topic of toSubscribe) if (local.listenerCount(topic) === 0) toSubscribe.delete(topic);
    const subscribe = [...toSubscribe];
    const unsubscribe = [...toUnsubscribe].filter((topic) => local.listenerCount(topic) === 0);
    toUnsubscribe.clear();
    try {
      if (subscribe.length > 0) await subscriber.subscribe(...subscribe.map((topic) => prefix + topic));
      // Until now this instance's own messages on them were delivered here directly.
      for (const topic of subscribe) {
        toSubscribe.delete(topic);
        // Its last listener left meanwhile.
        if (local.listenerCount(topic) === 0) toUnsubscribe.add(topic);
      }
      if (toUnsubscribe.size > 0) scheduleRetry();
    } catch (error) {
      onError(error, 'subscribe');
      scheduleRetry();
    }
    try {
      if (unsubscribe.length > 0) await subscriber.unsubscribe(...unsubscribe.map((topic) => prefix + topic));
    } catch (error) {
      onError(error, 'unsubscribe');
      for (const topic of unsubscribe) toUnsubscribe.add(topic);
      scheduleRetry();
    }
  }
  const onReady = () => void settle();
  subscriber.on('ready', onReady);

  return {
    async publish(topic, message) {
      try {
        await publisher.publish(prefix + topic, message);
      } catch (error) {
        local.emit(topic, message);
        onError(error, 'publish');
        throw error;
      }
      // Redis took it, but cannot hand it back to this instance while its connection is
      // down, or before the topic's SUBSCRIBE went through.
      if (subscriber.status !== 'ready' || toSubscribe.has(topic)) local.emit(topic, message);
    },
    async subscribe(topic, onMessage) {
      local.on(topic, onMessage);
      if (local.listenerCount(topic) === 1) {
        toUnsubscribe.delete(topic);
        try {
          await subscriber.subscribe(prefix + topic);
        } catch (error) {
          // Local messages reach the listener now; other instances' once Redis takes the SUBSCRIBE.
          onError(error, 'subscribe');
          toSubscribe.add(topic);
          scheduleRetry();
        }
      }
      return async () => {
        local.off(topic, onMessage);
        if (local.listenerCount(topic) > 0) return;
        toSubscribe.delete(topic);
        try {
          await subscriber.unsubscribe(prefix + topic);
        } catch (error) {
          onError(error, 'unsubscribe');
          toUnsubscribe.add(topic);
          scheduleRetry();
        }
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      subscriber.off('message', onMessage);
      subscriber.off('ready', onReady);
      local.removeAllListeners();
    },
  };
}

/**
 * Every message of `topic` from the moment this resolves, as an async iterator (for a
 * subscription resolver). Unlike a snapshot feed nothing is conflated: messages queue
 * for a slow reader, up to `maxQueued`, after which the oldest are dropped.
 * `return()` unsubscribes at once, even while a `next()` is waiting.
 */
export async function messagesOf(pubsub: PubSub, topic: string, maxQueued = 1_000): Promise<AsyncIterableIterator<string>> {
  const queued: string[] = [];
  let waiting: ((result: IteratorResult<string>) => void) | undefined;
  let done = false;
  const unsubscribe = await pubsub.subscribe(topic, (message) => {
    if (done) return;
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: message, done: false });
      return;
    }
    if (queued.length >= maxQueued) queued.shift();
    queued.push(message);
  });
  const iterator: AsyncIterableIterator<string> = {
    next() {
      if (queued.length > 0) return Promise.resolve({ value: queued.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    async return() {
      if (!done) {
        done = true;
        queued.length = 0;
        waiting?.({ value: undefined, done: true });
        waiting = undefined;
        await unsubscribe();
      }
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
