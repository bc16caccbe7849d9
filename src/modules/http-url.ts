/** True for an absolute http(s) URL of at most 2,000 characters: what we accept for wishlists and webhooks. */
export function isHttpUrl(text: string): boolean {
  if (text.length > 2_000) return false;
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}
