import { setTimeout as sleep } from 'node:timers/promises';
import type { Pacer } from '../../platform/pacer.js';
import type { BotApi, SendOutcome } from './bot-api.js';

/** What a paced send answers: Telegram's outcome, or that it was not sent and when to come back. */
export type PacedOutcome = SendOutcome | { kind: 'deferred'; retryInMs: number };

export interface TelegramMetrics {
  sent(outcome: PacedOutcome['kind']): void;
  retryAfter(seconds: number): void;
}

export interface TelegramChannelOptions {
  api: BotApi;
  /** The bot's numeric id (the part of its token before `:`): names its lanes, never the token itself. */
  botId: string;
  botUsername: string;
  /** Telegram's bulk limit for one bot: messages per second across all chats. */
  maxPerSecond: number;
  pacer: Pacer;
  metrics?: TelegramMetrics;
}

/**
 * Telegram allows one message per second in a chat; the lane leaves a tenth more, as two
 * sends may arrive closer together than they left (a network hop, an event loop that was
 * busy for one of them).
 */
const CHAT_INTERVAL_MS = 1_100;
/** The same margin for the bot's lane, where slots are ~33 ms apart: a few ms. */
const ARRIVAL_MARGIN_MS = 2;
/** Longer than this in the queue for a slot, a delivery steps back and its row comes due again later. */
export const MAX_SLOT_WAIT_MS = 2_000;

/**
 * Telegram as a delivery target: every `sendMessage` first takes a slot in two lanes
 * shared by every instance — the bot's (`maxPerSecond`) and the chat's (one per second) —
 * and waits for it; a 429 pauses the bot's lanes on every instance for its `retry_after`.
 * A send that would wait longer than MAX_SLOT_WAIT_MS, or meets a pause, is not made: it
 * answers `deferred` and the outbox reschedules it without counting an attempt.
 */
export function createTelegramChannel(options: TelegramChannelOptions) {
  const { api, pacer, metrics } = options;
  const pauseKey = `telegram:${options.botId}:pause`;
  const botLane = { key: `telegram:${options.botId}:bot`, intervalMs: Math.ceil(1_000 / options.maxPerSecond) + ARRIVAL_MARGIN_MS };
  const chatLane = (chatId: number) => ({ key: `telegram:${options.botId}:chat:${chatId}`, intervalMs: CHAT_INTERVAL_MS });

  const deferred = (retryInMs: number): PacedOutcome => {
    metrics?.sent('deferred');
    return { kind: 'deferred', retryInMs };
  };

  return {
    botUsername: options.botUsername,
    /** How long the bot stays paused by a 429, in ms (0: sending). */
    pausedFor: () => pacer.pausedFor(pauseKey),

    /** `maxWaitMs`: how long this send may queue for its slot (a reply to a user waits longer than a delivery). */
    async send(chatId: number, text: string, maxWaitMs = MAX_SLOT_WAIT_MS): Promise<PacedOutcome> {
      const reservation = await pacer.reserve([botLane, chatLane(chatId)], maxWaitMs, pauseKey);
      if (reservation.kind === 'later') return deferred(reservation.retryInMs);
      if (reservation.waitMs > 0) {
        await sleep(reservation.waitMs);
        // A 429 seen by any instance while this one waited holds for it too.
        const paused = await pacer.pausedFor(pauseKey);
        if (paused > 0) return deferred(paused);
      }
      const outcome = await api.sendMessage(chatId, text);
      if (outcome.kind === 'rate-limited') {
        await pacer.pause(pauseKey, outcome.retryAfterS * 1_000);
        metrics?.retryAfter(outcome.retryAfterS);
      }
      metrics?.sent(outcome.kind);
      return outcome;
    },
  };
}

export type TelegramChannel = ReturnType<typeof createTelegramChannel>;
