import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { z } from 'zod';
import { isHttpUrl } from '../http-url.js';

/** One item as a wishlist source describes it. */
export interface SourceItem {
  externalId: string;
  title: string;
  priceMinor: number | null;
  currency: string | null;
  url: string | null;
  imageUrl: string | null;
}

/** A failed fetch: the message is what `lastSyncError` records; `retryable` says whether trying again may help. */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_ITEMS = 5_000;
const RETRY_BASE_MS = 500;

const httpUrl = z.string().refine(isHttpUrl, 'must be an http(s) URL of at most 2,000 characters');

const wishlistDocument = z.object({
  items: z
    .array(
      z.object({
        id: z.union([z.string().trim().min(1).max(200), z.number().int()]).transform(String),
        title: z.string().trim().min(1).max(500),
        price: z
          .object({
            amountMinor: z.number().int().min(0).max(2_147_483_647),
            currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
          })
          .nullish(),
        url: httpUrl.nullish(),
        imageUrl: httpUrl.nullish(),
      }),
    )
    .max(MAX_ITEMS),
});

/**
 * Reads the wishlist JSON at `url` (the format is in docs/api.md): one request bounded by
 * `timeoutMs`, up to `retries` more after network errors, timeouts, 429 and 5xx answers,
 * with exponential backoff and jitter. Answers that are not a wishlist are not retried.
 */
export async function fetchWishlist(url: string, options: { timeoutMs: number; retries: number }): Promise<SourceItem[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return parseWishlist(await fetchBody(url, options.timeoutMs));
    } catch (error) {
      const failure = error instanceof SourceError ? error : new SourceError(describeNetworkError(error), true);
      if (!failure.retryable || attempt >= options.retries) throw failure;
      await sleep(RETRY_BASE_MS * 2 ** attempt * (0.5 + Math.random() / 2));
    }
  }
}

/** The items of a wishlist document; SourceError (not retryable) for anything else. */
export function parseWishlist(body: string): SourceItem[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new SourceError('the source did not answer JSON', false);
  }
  const parsed = wishlistDocument.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SourceError(`the source answered a document that is not a wishlist (${issue.path.join('.') || 'document'}: ${issue.message})`, false);
  }
  const seen = new Set<string>();
  for (const item of parsed.data.items) {
    if (seen.has(item.id)) throw new SourceError(`the source lists item ${JSON.stringify(item.id)} twice`, false);
    seen.add(item.id);
  }
  return parsed.data.items.map((item) => ({
    externalId: item.id,
    title: item.title,
    priceMinor: item.price?.amountMinor ?? null,
    currency: item.price?.currency ?? null,
    url: item.url ?? null,
    imageUrl: item.imageUrl ?? null,
  }));
}

async function fetchBody(url: string, timeoutMs: number): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response;
  try {
    response = await request(url, {
      signal,
      headers: { accept: 'application/json', 'user-agent': 'Nightgraph-WishlistSync/1' },
    });
  } catch (error) {
    throw new SourceError(signal.aborted ? `the source did not answer within ${timeoutMs} ms` : describeNetworkError(error), true);
  }
  const { statusCode, body } = response;
  if (statusCode < 200 || statusCode >= 300) {
    await body.dump();
    throw new SourceError(`the source answered HTTP ${statusCode}`, statusCode === 429 || statusCode >= 500);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        body.destroy();
        throw new SourceError(`the source answered more than ${MAX_BODY_BYTES} bytes`, false);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError(signal.aborted ? `the source did not answer within ${timeoutMs} ms` : describeNetworkError(error), true);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return `the source could not be reached (${typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown error'})`;
}
