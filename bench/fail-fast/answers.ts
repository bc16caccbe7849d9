import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { graphqlRequest } from '../http.js';

/** What one request got back, and how long it took from sending to the last byte. */
export interface Answer {
  ms: number;
  /** Undefined when no answer came (refused, or none within the bound). */
  status: number | undefined;
  /** The first GraphQL error's `extensions.code` and `extensions.reason`. */
  code?: string;
  reason?: string;
  /** A GraphQL answer with `data` and no errors. */
  answered?: boolean;
  transport?: string;
}

/** What an answer must be for its time to count: HTTP status, and for GraphQL a failure reason or data. */
export interface Expected {
  status: number;
  reason?: 'DATABASE_BUSY' | 'DATABASE_UNAVAILABLE';
  answered?: true;
}

const NIGHT = /* GraphQL */ `query($id: ID!) { night(id: $id) { id startsAt } }`;

/** GET `url` (/healthz, /readyz), timed. */
export function get(url: string, signal: AbortSignal, boundMs: number): Promise<Answer> {
  return timed(url, { method: 'GET' }, signal, boundMs);
}

/**
 * A read of one night: `startsAt` keeps it off the response cache (which serves only
 * availability), so every one goes to PostgreSQL.
 */
export function readNight(url: string, nightId: string, signal: AbortSignal, boundMs: number): Promise<Answer> {
  return timed(url, { method: 'POST', ...graphqlRequest(NIGHT, { id: nightId }) }, signal, boundMs);
}

async function timed(url: string, init: RequestInit, signal: AbortSignal, boundMs: number): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(boundMs)]) });
    const text = await response.text();
    const ms = performance.now() - started;
    return { ms, status: response.status, ...graphqlOutcome(text) };
  } catch (error) {
    signal.throwIfAborted();
    const ms = performance.now() - started;
    const name = (error as Error).name;
    return { ms, status: undefined, transport: name === 'TimeoutError' ? `no answer within ${boundMs} ms` : String(error) };
  }
}

function graphqlOutcome(text: string): Pick<Answer, 'code' | 'reason' | 'answered'> {
  try {
    const body = JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string; reason?: string } }[] };
    const first = body.errors?.[0]?.extensions;
    return { code: first?.code, reason: first?.reason, answered: body.data != null && !body.errors?.length };
  } catch {
    return {};
  }
}

/** How `answer` differs from `expected`, or undefined when it is what was expected. */
export function mismatch(answer: Answer, expected: Expected): string | undefined {
  const got = describe(answer);
  if (answer.status !== expected.status) return `expected ${expected.status}, got ${got}`;
  if (expected.reason && (answer.code !== 'UNAVAILABLE' || answer.reason !== expected.reason)) {
    return `expected UNAVAILABLE/${expected.reason}, got ${got}`;
  }
  if (expected.answered && !answer.answered) return `expected data, got ${got}`;
  return undefined;
}

function describe(a: Answer): string {
  if (a.status === undefined) return `${a.transport} after ${a.ms.toFixed(1)} ms`;
  const error = a.code ? ` ${a.code}${a.reason ? `/${a.reason}` : ''}` : a.answered ? ' with data' : '';
  return `${a.status}${error} after ${a.ms.toFixed(1)} ms`;
}

/** Polls `check` every `everyMs` until it holds; resolves how long that took, or undefined after `boundMs`. */
export async function timeUntil(check: () => Promise<boolean>, everyMs: number, boundMs: number, signal: AbortSignal): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < boundMs) {
    signal.throwIfAborted();
    if (await check()) return performance.now() - started;
    await sleep(everyMs);
  }
  return undefined;
}
