import { timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../db/client.js';
import type { Logger } from '../platform/logger.js';
import type { TelegramChannel } from '../modules/telegram/channel.js';
import { acceptUpdate, type TelegramUpdate } from '../modules/telegram/service.js';
import { readGraphQLBody } from './request-body.js';

/** Telegram's own header for the webhook's `secret_token` (setWebhook). */
export const TELEGRAM_SECRET_HEADER = 'x-telegram-bot-api-secret-token';
/** An update is a few KiB; anything much larger did not come from Telegram. */
const MAX_UPDATE_BYTES = 256 * 1024;
/** A person waiting for the bot's answer is served ahead of nothing, but may queue behind a campaign this long. */
const REPLY_MAX_WAIT_MS = 15_000;

export interface TelegramWebhookDeps {
  db: Database;
  channel: TelegramChannel;
  secret: string;
  logger: Logger;
}

/**
 * `POST /telegram/webhook`: the updates Telegram sends the bot. Only with the secret
 * given to `setWebhook` as `secret_token` (compared in constant time; anything else is
 * 401 and changes nothing). The update is acted on in its own transaction and answered
 * 200 at once — Telegram resends what is not answered 2xx — and the bot's reply in the
 * chat is sent afterwards, paced like every other message of the bot.
 */
export function createTelegramWebhook({ db, channel, secret, logger }: TelegramWebhookDeps) {
  const expected = Buffer.from(secret);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return answer(res, 405, { ok: false, description: 'POST only' });
    const given = Buffer.from(String(req.headers[TELEGRAM_SECRET_HEADER] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return answer(res, 401, { ok: false, description: 'wrong or missing secret token' });
    }
    const read = await readGraphQLBody(req, MAX_UPDATE_BYTES);
    if (read.kind === 'refused' || typeof read.body !== 'object' || read.body === null) {
      return answer(res, 400, { ok: false, description: read.kind === 'refused' ? read.message : 'an update is a JSON object' });
    }
    const reply = await acceptUpdate(db, read.body as TelegramUpdate);
    answer(res, 200, { ok: true });
    if (reply) {
      const sent = await answerInChat(channel, reply.chatId, reply.text);
      if (sent.kind !== 'sent') logger.warn({ outcome: sent.kind }, 'the bot could not answer in a chat');
    }
  };
}

/**
 * The bot's reply: not in the outbox (a reply that never arrives is no lost notification),
 * but worth waiting for while the bot is busy or paused, up to REPLY_MAX_WAIT_MS.
 */
async function answerInChat(channel: TelegramChannel, chatId: number, text: string) {
  const deadline = Date.now() + REPLY_MAX_WAIT_MS;
  for (;;) {
    const sent = await channel.send(chatId, text, Math.max(0, deadline - Date.now()));
    const retryInMs = sent.kind === 'deferred' ? sent.retryInMs : sent.kind === 'rate-limited' ? sent.retryAfterS * 1_000 : undefined;
    if (retryInMs === undefined || Date.now() + retryInMs > deadline) return sent;
    await sleep(retryInMs);
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
