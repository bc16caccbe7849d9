import { request } from 'undici';

/** How Telegram answered one `sendMessage`, in the terms delivery acts on. */
export type SendOutcome =
  | { kind: 'sent' }
  /** 429: the bot sends too fast; no request of this bot may go out for `retryAfterS`. */
  | { kind: 'rate-limited'; retryAfterS: number }
  /** 403: the user blocked the bot (or left the chat); sending again is pointless. */
  | { kind: 'blocked'; description: string }
  /** Any other 4xx: this message will never be accepted (bad chat id, text too long…). */
  | { kind: 'rejected'; status: number; description: string }
  /** 5xx, a timeout, a network error: worth trying again later. */
  | { kind: 'unavailable'; reason: string };

export interface BotApiOptions {
  /** `https://api.telegram.org` or a stand-in's URL. */
  apiUrl: string;
  token: string;
  timeoutMs: number;
}

/** Telegram's longest message text. */
export const MAX_TEXT_LENGTH = 4_096;
/** A 429 that names no `retry_after` pauses for this long. */
const DEFAULT_RETRY_AFTER_S = 1;

/**
 * Telegram's Bot API, the one method delivery needs. Every answer is JSON
 * `{ ok, result | error_code, description, parameters? }`; a 429 carries
 * `parameters.retry_after` in seconds.
 */
export function createBotApi(options: BotApiOptions) {
  const base = `${options.apiUrl.replace(/\/+$/, '')}/bot${options.token}`;
  return {
    async sendMessage(chatId: number, text: string): Promise<SendOutcome> {
      let statusCode: number;
      let answer: { ok?: boolean; description?: string; parameters?: { retry_after?: number } } | undefined;
      try {
        const response = await request(`${base}/sendMessage`, {
          method: 'POST',
          signal: AbortSignal.timeout(options.timeoutMs),
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ chat_id: chatId, text: text.slice(0, MAX_TEXT_LENGTH) }),
        });
        statusCode = response.statusCode;
        answer = (await response.body.json().catch(() => undefined)) as typeof answer;
      } catch (error) {
        const code = (error as { code?: unknown; name?: unknown }).code ?? (error as { name?: unknown }).name;
        return { kind: 'unavailable', reason: `Telegram could not be reached (${typeof code === 'string' ? code : 'network error'})` };
      }
      if (statusCode >= 200 && statusCode < 300 && answer?.ok) return { kind: 'sent' };
      const description = String(answer?.description ?? `HTTP ${statusCode}`).slice(0, 200);
      if (statusCode === 429) {
        const retryAfter = Number(answer?.parameters?.retry_after);
        return { kind: 'rate-limited', retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : DEFAULT_RETRY_AFTER_S };
      }
      if (statusCode === 403) return { kind: 'blocked', description };
      if (statusCode >= 400 && statusCode < 500) return { kind: 'rejected', status: statusCode, description };
      return { kind: 'unavailable', reason: `Telegram answered HTTP ${statusCode}: ${description}` };
    },
  };
}

export type BotApi = ReturnType<typeof createBotApi>;
