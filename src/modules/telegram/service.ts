import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, lt, ne, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { telegramLinks, telegramLinkTokens, users, type User } from '../../db/schema.js';
import { AppError, ErrorCode } from '../../errors.js';
import { requirePrincipal } from '../../platform/auth.js';
import type { Scope } from '../scope.js';
import { requireFullView } from '../users/visibility.js';

/** How long a deep link's token may be used. */
export const LINK_TOKEN_TTL_MS = 15 * 60_000;

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

const notConfigured = () =>
  new AppError(
    ErrorCode.NOT_CONFIGURED,
    'Telegram is not set up on this server: it needs TELEGRAM_BOT_TOKEN, TELEGRAM_BOT_USERNAME and TELEGRAM_WEBHOOK_SECRET',
  );

/**
 * A one-time deep link to the bot for the signed-in user: `https://t.me/<bot>?start=<token>`.
 * Opening it and pressing Start sends `/start <token>` from the user's chat, which links
 * that chat (see `acceptUpdate`). The token is 32 base64url characters (what Telegram
 * allows in a start parameter), kept only as its hash, valid for 15 minutes, once.
 */
export async function linkTelegram(scope: Scope): Promise<{ url: string; expiresAt: Date }> {
  requirePrincipal(scope.viewer);
  if (!scope.telegram) throw notConfigured();
  const user = await scope.currentUser();
  const token = randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + LINK_TOKEN_TTL_MS);
  await scope.db.transaction(async (tx) => {
    // The user's spent and expired tokens go; the table holds only live ones.
    await tx.delete(telegramLinkTokens).where(and(eq(telegramLinkTokens.userId, user.id), lt(telegramLinkTokens.expiresAt, sql`now()`)));
    await tx.insert(telegramLinkTokens).values({ tokenHash: hashOf(token), userId: user.id, expiresAt });
  });
  return { url: `https://t.me/${scope.telegram.botUsername}?start=${token}`, expiresAt };
}

/** Unlinks the signed-in user's chat: false if none was linked. */
export async function unlinkTelegram(scope: Scope): Promise<boolean> {
  requirePrincipal(scope.viewer);
  const user = await scope.currentUser();
  const removed = await scope.db.delete(telegramLinks).where(eq(telegramLinks.userId, user.id)).returning({ userId: telegramLinks.userId });
  return removed.length > 0;
}

export interface TelegramStatus {
  linked: boolean;
  chatTitle: string | null;
  linkedAt: Date | null;
  blockedAt: Date | null;
}

/** Whether the user's notifications reach a Telegram chat: the user (and admins) only. */
export async function telegramStatusOf(scope: Scope, user: User): Promise<TelegramStatus> {
  await requireFullView(scope, user, 'Telegram link');
  const link = await scope.loaders.telegramLinkByUser.load(user.id);
  if (!link) return { linked: false, chatTitle: null, linkedAt: null, blockedAt: null };
  return { linked: link.deadAt === null, chatTitle: link.chatTitle, linkedAt: link.linkedAt, blockedAt: link.deadAt };
}

/** The part of a Telegram update the bot acts on. */
export interface TelegramUpdate {
  update_id?: number;
  message?: {
    text?: string;
    chat?: { id?: number | string; type?: string; title?: string; username?: string; first_name?: string; last_name?: string };
  };
}

/** What the bot answers in the chat, if anything. */
export interface UpdateAnswer {
  chatId: number;
  text: string;
}

const START = /^\/start(?:@\w+)?(?:\s+(\S+))?\s*$/;
const STOP = /^\/stop(?:@\w+)?\s*$/;

/**
 * Acts on one update from Telegram's webhook: `/start <token>` links the chat to the
 * token's user (once, before it expires; a chat linked to someone else moves), `/stop`
 * unlinks it. Other messages are left alone. Returns what to answer in the chat.
 */
export async function acceptUpdate(db: Database, update: TelegramUpdate): Promise<UpdateAnswer | undefined> {
  const chat = update.message?.chat;
  const text = update.message?.text?.trim();
  const chatId = Number(chat?.id);
  if (!chat || !Number.isSafeInteger(chatId) || !text) return undefined;

  if (STOP.test(text)) {
    const removed = await db.delete(telegramLinks).where(eq(telegramLinks.chatId, chatId)).returning({ userId: telegramLinks.userId });
    return { chatId, text: removed.length > 0 ? 'Unlinked: Nightgraph will not send anything to this chat any more.' : 'This chat is not linked to a Nightgraph account.' };
  }
  const start = START.exec(text);
  if (!start) return undefined;
  const token = start[1];
  if (!token) return { chatId, text: 'Open the Telegram link from the Nightgraph app to connect this chat.' };

  const title = chatTitleOf(chat);
  const linked = await db.transaction(async (tx) => {
    const [claimed] = await tx
      .update(telegramLinkTokens)
      .set({ usedAt: sql`now()` })
      .where(and(eq(telegramLinkTokens.tokenHash, hashOf(token)), isNull(telegramLinkTokens.usedAt), gt(telegramLinkTokens.expiresAt, sql`now()`)))
      .returning({ userId: telegramLinkTokens.userId });
    if (!claimed) return undefined;
    // One user per chat: linking it again moves it.
    await tx.delete(telegramLinks).where(and(eq(telegramLinks.chatId, chatId), ne(telegramLinks.userId, claimed.userId)));
    await tx
      .insert(telegramLinks)
      .values({ userId: claimed.userId, chatId, chatTitle: title })
      .onConflictDoUpdate({ target: telegramLinks.userId, set: { chatId, chatTitle: title, linkedAt: sql`now()`, deadAt: null } });
    const [user] = await tx.select({ displayName: users.displayName }).from(users).where(eq(users.id, claimed.userId));
    return user ?? { displayName: null };
  });
  if (!linked) return { chatId, text: 'This link has expired or was used already. Ask for a new one in the Nightgraph app.' };
  return {
    chatId,
    text: `Linked${linked.displayName ? ` to ${linked.displayName}` : ''}: your Nightgraph notifications will come to this chat. Send /stop to unlink.`,
  };
}

/** Telegram answered 403 for this chat (the user blocked the bot): nothing more is sent to it. */
export async function markBlocked(db: Database, userId: string, chatId: number): Promise<void> {
  await db
    .update(telegramLinks)
    .set({ deadAt: sql`now()` })
    .where(and(eq(telegramLinks.userId, userId), eq(telegramLinks.chatId, chatId), isNull(telegramLinks.deadAt)));
}

/** A group's title, or a private chat's person: what `me.telegram.chatTitle` shows. */
function chatTitleOf(chat: NonNullable<NonNullable<TelegramUpdate['message']>['chat']>): string | null {
  const name = chat.title ?? ([chat.first_name, chat.last_name].filter(Boolean).join(' ') || (chat.username ? `@${chat.username}` : ''));
  return name ? name.slice(0, 200) : null;
}
