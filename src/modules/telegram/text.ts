import type { NotificationPayload } from '../notifications/producers.js';
import { MAX_TEXT_LENGTH } from './bot-api.js';

/** An amount in minor units as a chat shows it: `12.50 EUR` (currencies with no minor unit are not in use here). */
function money(price: { amountMinor: number; currency: string }): string {
  return `${(price.amountMinor / 100).toFixed(2)} ${price.currency}`;
}

/**
 * A notification as one Telegram message, plain text: its message, and for a wishlist
 * item its price and link on lines of their own (Telegram shows the link's preview).
 */
export function telegramText(notification: Pick<NotificationPayload, 'kind' | 'message' | 'item'>): string {
  const lines = [notification.message];
  if (notification.kind === 'WISHLIST_ITEM_ADDED' && notification.item) {
    if (notification.item.price) lines.push(`Price: ${money(notification.item.price)}`);
    if (notification.item.url) lines.push(notification.item.url);
  }
  return lines.join('\n').slice(0, MAX_TEXT_LENGTH);
}
