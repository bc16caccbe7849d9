import { startHttpServer, sendJson } from './http.js';

/** How long a 429's answer may take to reach the bot and stop requests it was already making in parallel. */
export const IN_FLIGHT_GRACE_MS = 250;

export interface SentMessage {
  chatId: number;
  text: string;
  at: number;
}

export interface FakeBotApiOptions {
  /** The bot token requests must carry in their path (`/bot<token>/sendMessage`). */
  token: string;
  /** Messages per rolling second the bot may send across chats, as Telegram counts them. */
  maxPerSecond: number;
  /** How long a 429 tells the bot to stay away. */
  retryAfterS?: number;
  /** Chats whose user blocked the bot: 403. */
  blocked?: Set<number>;
  /** Answers 500 to every n-th request that would otherwise have been taken (0: never). */
  failEvery?: number;
}

export interface FakeBotApi {
  /** What to give TELEGRAM_API_URL. */
  url: string;
  /** Messages accepted, in order. */
  sent: SentMessage[];
  /** 429 answers given. */
  tooManyRequests: number;
  /** When each pause began (`Date.now()`): the first 429 past the limit, and each one after a pause ran out. */
  pausesStarted: number[];
  /**
   * Requests that arrived while the bot was told to stay away (inside a 429's
   * `retry_after`), later than IN_FLIGHT_GRACE_MS after the 429 was answered: each of
   * them is a send the bot made knowing it should wait.
   */
  sentDuringPause: number;
  /**
   * Requests that arrived inside a pause but within IN_FLIGHT_GRACE_MS of the 429: sent
   * in parallel before its answer could reach the bot and be acted on (Telegram answers
   * them 429 too; no sender can call back a request already on its way).
   */
  inFlightAtPause: number;
  /** Requests answered 403 because the chat blocked the bot. */
  forbidden: number;
  /** Requests answered 500 on purpose. */
  failed: number;
  close(): Promise<void>;
}

/**
 * Telegram's Bot API standing in for the real one: `sendMessage` only, with Telegram's
 * rules as a bot meets them — at most `maxPerSecond` messages in any rolling second and
 * one per second in a chat, beyond which it answers 429 with `parameters.retry_after`
 * and keeps answering 429 (counting each such request) until that time has passed; 403
 * for a chat that blocked the bot; a 500 now and then when asked to.
 */
export async function startFakeBotApi(options: FakeBotApiOptions): Promise<FakeBotApi> {
  const retryAfterS = options.retryAfterS ?? 1;
  const accepted: number[] = [];
  const lastInChat = new Map<number, number>();
  let pausedUntil = 0;
  /** When the 429 that began the current pause was written out. */
  let pauseAnsweredAt = Number.POSITIVE_INFINITY;
  let taken = 0;
  const api = {
    url: '',
    sent: [] as SentMessage[],
    tooManyRequests: 0,
    pausesStarted: [] as number[],
    sentDuringPause: 0,
    inFlightAtPause: 0,
    forbidden: 0,
    failed: 0,
    close: async () => {},
  };
  const tooMany = (res: Parameters<Parameters<typeof startHttpServer>[0]>[1]) => {
    api.tooManyRequests += 1;
    sendJson(res, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${retryAfterS}`, parameters: { retry_after: retryAfterS } });
  };
  const server = await startHttpServer((request, res) => {
    if (request.method !== 'POST' || request.path !== `/bot${options.token}/sendMessage`) {
      return sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    }
    const now = Date.now();
    if (now < pausedUntil) {
      if (now - pauseAnsweredAt > IN_FLIGHT_GRACE_MS) api.sentDuringPause += 1;
      else api.inFlightAtPause += 1;
      return tooMany(res);
    }
    let body: { chat_id?: unknown; text?: unknown };
    try {
      body = JSON.parse(request.body) as typeof body;
    } catch {
      return sendJson(res, 400, { ok: false, error_code: 400, description: 'Bad Request: invalid JSON' });
    }
    const chatId = Number(body.chat_id);
    if (!Number.isSafeInteger(chatId) || typeof body.text !== 'string' || body.text === '') {
      return sendJson(res, 400, { ok: false, error_code: 400, description: 'Bad Request: chat_id and text are required' });
    }
    if (options.blocked?.has(chatId)) {
      api.forbidden += 1;
      return sendJson(res, 403, { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    }
    while (accepted.length > 0 && accepted[0]! <= now - 1_000) accepted.shift();
    const chatTooSoon = now - (lastInChat.get(chatId) ?? -Infinity) < 1_000;
    if (accepted.length >= options.maxPerSecond || chatTooSoon) {
      pausedUntil = now + retryAfterS * 1_000;
      api.pausesStarted.push(now);
      pauseAnsweredAt = Number.POSITIVE_INFINITY;
      tooMany(res);
      res.once('finish', () => (pauseAnsweredAt = Date.now()));
      return;
    }
    taken += 1;
    if (options.failEvery && taken % options.failEvery === 0) {
      api.failed += 1;
      return sendJson(res, 500, { ok: false, error_code: 500, description: 'Internal Server Error' });
    }
    accepted.push(now);
    lastInChat.set(chatId, now);
    api.sent.push({ chatId, text: body.text, at: now });
    sendJson(res, 200, { ok: true, result: { message_id: api.sent.length, chat: { id: chatId }, date: Math.floor(now / 1000), text: body.text } });
  });
  api.url = server.origin;
  api.close = server.close;
  return api;
}
