import { sql } from 'drizzle-orm';
import { bigint, index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.js';

/**
 * A user's Telegram chat, where their notifications are sent. One per user; a chat
 * belongs to one user at a time (linking it again moves it). `deadAt` is set when
 * Telegram answers 403 (the user blocked the bot): nothing is sent to it any more.
 */
export const telegramLinks = pgTable(
  'telegram_links',
  {
    userId: uuid('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Telegram's chat ids fit in 52 bits: safe as a JavaScript number. */
    chatId: bigint('chat_id', { mode: 'number' }).notNull(),
    chatTitle: text('chat_title'),
    linkedAt: timestamp('linked_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    deadAt: timestamp('dead_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [uniqueIndex('telegram_links_chat_key').on(t.chatId)],
);

/**
 * The one-time token of a `https://t.me/<bot>?start=<token>` deep link, kept only as its
 * SHA-256: it links the chat that sends `/start <token>` to the user who asked for it,
 * once, before it expires.
 */
export const telegramLinkTokens = pgTable(
  'telegram_link_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().default(sql`now()`),
  },
  (t) => [index('telegram_link_tokens_user_idx').on(t.userId)],
);

export type TelegramLink = typeof telegramLinks.$inferSelect;
