import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { request } from 'undici';
import { withTraceHeaders } from '../../platform/tracing.js';

export const SIGNATURE_HEADER = 'nightgraph-signature';
export const DELIVERY_HEADER = 'nightgraph-delivery';
export const EVENT_HEADER = 'nightgraph-event';

/** A new webhook secret: 32 random bytes, base64url. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** `sha256=<hex HMAC-SHA256 of the body under the secret>`, the signature header's value. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What a receiver does: compares the header with its own signature of the raw body in constant time. */
export function verifySignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signature(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * POSTs one delivery. Resolves on a 2xx answer; throws with a short reason (the status,
 * a timeout, a network error code) otherwise. Redirects are not followed.
 */
export async function postWebhook(
  url: string,
  secret: string,
  delivery: { id: string; event: string; body: string },
  timeoutMs: number,
): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  let statusCode: number;
  try {
    const response = await request(url, {
      method: 'POST',
      signal,
      // `traceparent`, with tracing on: the receiver's trace continues from this delivery.
      headers: withTraceHeaders({
        'content-type': 'application/json',
        'user-agent': 'Nightgraph-Webhooks/1',
        [DELIVERY_HEADER]: delivery.id,
        [EVENT_HEADER]: delivery.event,
        [SIGNATURE_HEADER]: signature(secret, delivery.body),
      }),
      body: delivery.body,
    });
    statusCode = response.statusCode;
    await response.body.dump();
  } catch (error) {
    if (signal.aborted) throw new Error(`no answer within ${timeoutMs} ms`);
    const code = (error as { code?: unknown }).code;
    throw new Error(`could not reach the receiver (${typeof code === 'string' ? code : 'network error'})`);
  }
  if (statusCode < 200 || statusCode >= 300) throw new Error(`the receiver answered HTTP ${statusCode}`);
}
