import { describe, expect, it } from 'vitest';
import { telegramText } from '../../src/modules/telegram/text.js';

describe('a notification as a Telegram message', () => {
  it('is the message, with a wishlist item’s price and link on lines of their own', () => {
    expect(
      telegramText({
        kind: 'WISHLIST_ITEM_ADDED',
        message: 'Mira added "Headphones" to their wishlist',
        item: { title: 'Headphones', price: { amountMinor: 12_950, currency: 'EUR' }, url: 'https://shop.example/h', imageUrl: null },
      }),
    ).toBe('Mira added "Headphones" to their wishlist\nPrice: 129.50 EUR\nhttps://shop.example/h');
    expect(telegramText({ kind: 'WISHLIST_ITEM_ADDED', message: 'Mira added "Socks"', item: { title: 'Socks', price: null, url: null, imageUrl: null } })).toBe('Mira added "Socks"');
    expect(telegramText({ kind: 'NIGHT_CANCELLED', message: 'Club cancelled the night of 2026-12-05: flooded' })).toBe('Club cancelled the night of 2026-12-05: flooded');
  });

  it("is cut at Telegram's 4,096 characters", () => {
    expect(telegramText({ kind: 'CAMPAIGN', message: 'x'.repeat(5_000) })).toHaveLength(4_096);
  });
});
