import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { currentScope, withScope } from './async-scope.js';
import { startClientSpan } from './tracing.js';

/**
 * What one request (or any other unit of work) asked of the database.
 *
 * What a request is charged — the rule behind `extensions.sql`, `Server-Timing` and the
 * per-operation metrics:
 * - every statement sent in the request's async context while it is being served,
 *   however deep: queries, and a transaction's own statements (BEGIN, COMMIT or ROLLBACK,
 *   SAVEPOINT and RELEASE or ROLLBACK TO), each once, as the driver sends them;
 * - a computation shared by concurrent requests (single-flight) is charged to the request
 *   that started it, once; a request that joins it waits for it but is charged nothing;
 * - nothing once the request's answer is ready (`countSqlIn` settled): its numbers are
 *   final, whatever it left running;
 * - nothing for work it starts without waiting for it, run through `outsideSqlCounter`
 *   (after a commit: recomputing and announcing vote results). Such work is charged to
 *   no request; observers (slow-statement log, statement-duration histogram) still see it.
 */
export interface SqlStats {
  statements: number;
  durationMs: number;
}

/** `text` is the statement as sent, with placeholders: parameter values are never reported. */
type StatementObserver = (durationMs: number, text: string | undefined) => void;
const observers = new Set<StatementObserver>();
/** Counters whose request has its answer: they change no more. */
const answered = new WeakSet<SqlStats>();

export function newSqlStats(): SqlStats {
  return { statements: 0, durationMs: 0 };
}

/**
 * Runs `work` with `stats` as the counter: every statement sent inside it, however deep,
 * is counted, until `work` settles; from then on `stats` stays as it is.
 */
export async function countSqlIn<T>(stats: SqlStats, work: () => Promise<T>): Promise<T> {
  try {
    return await withScope({ sql: stats }, work);
  } finally {
    answered.add(stats);
  }
}

/**
 * Runs `fn` with no counter: for work a request starts and does not wait for. Its
 * statements are charged to no request, so none is charged after it answered, and a
 * request's count does not depend on how far such work got before the answer. Only the
 * counter is left behind: observers run in the request's other async state, so the
 * slow-statement log still names the request that caused the work.
 */
export function outsideSqlCounter<T>(fn: () => T): T {
  return withScope({ sql: undefined }, fn);
}

/**
 * Tells `fn` the duration (and text, when the driver reports it) of every statement sent
 * in this process until the returned function is called. `fn` runs in the async context
 * that sent the statement, so a logger there sees the request that caused it.
 */
export function observeStatements(fn: StatementObserver): () => void {
  observers.add(fn);
  return () => void observers.delete(fn);
}

const STATEMENT_TEXT_LIMIT = 200;

/** A statement's text for a log line: whitespace collapsed, cut to ~200 characters. */
export function statementForLog(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > STATEMENT_TEXT_LIMIT ? `${flat.slice(0, STATEMENT_TEXT_LIMIT)}…` : flat;
}

/**
 * Calls `report` for every statement slower than `thresholdMs` (in the async context that
 * sent it) with its duration and its text, truncated, placeholders and all: parameter
 * values are never part of it. Returns the function that stops watching.
 */
export function watchSlowStatements(
  thresholdMs: number,
  report: (slow: { durationMs: number; statement: string | undefined }) => void,
): () => void {
  return observeStatements((durationMs, text) => {
    if (durationMs < thresholdMs) return;
    report({ durationMs: Math.round(durationMs * 10) / 10, statement: text === undefined ? undefined : statementForLog(text) });
  });
}

/**
 * When `sent` (a transaction or savepoint the driver runs) settles, either way: marks its
 * opening statement answered, and its closing one (COMMIT, ROLLBACK, ROLLBACK TO) if one
 * was sent — `closing` is read then, as it is known only by the end.
 */
export function answeredWhenSettled(sent: Promise<unknown>, opening: () => void, closing: () => (() => void) | undefined): void {
  const answered = () => {
    opening();
    closing()?.();
  };
  sent.then(answered, answered);
}

/**
 * Counts a statement the driver sends now (one we do not send ourselves: BEGIN, COMMIT,
 * ROLLBACK, a savepoint) and returns the function to call when its answer arrives, from
 * wherever the driver tells us; it adds the round-trip time, tells observers in the async
 * context that sent the statement, and does nothing when called again.
 */
export function statementSent(text?: string): () => void {
  const settle = startStatement(text);
  const inSender = AsyncLocalStorage.snapshot();
  return () => inSender(settle);
}

/**
 * Counts a statement when it is sent and adds its round-trip time when it settles.
 * The counter is the one of the async context that sent it, so concurrent requests
 * never see each other's statements. `text` (the statement with its placeholders, never
 * its parameters) is passed on to observers, for the slow-statement log.
 */
export function timeStatement<T>(run: () => PromiseLike<T>, text?: string): Promise<T> {
  const settle = startStatement(text);
  return Promise.resolve(run()).then(
    (value) => {
      settle();
      return value;
    },
    (error: unknown) => {
      settle(error);
      throw error;
    },
  );
}

/**
 * Counts a statement for the current context, and traces it as a child of the active
 * span (see tracing.ts) under its text with placeholders; the returned function records
 * its answer, once.
 */
function startStatement(text: string | undefined): (error?: unknown) => void {
  const stats = currentScope()?.sql;
  const counting = stats !== undefined && !answered.has(stats);
  if (counting) stats.statements += 1;
  const endSpan = startClientSpan(statementSpanName(text), text === undefined ? SQL_SPAN : { ...SQL_SPAN, 'db.query.text': text });
  const started = performance.now();
  let settled = false;
  return (error) => {
    if (settled) return;
    settled = true;
    endSpan?.(error);
    const elapsed = performance.now() - started;
    if (counting && !answered.has(stats)) stats.durationMs += elapsed;
    for (const observe of observers) observe(elapsed, text);
  };
}

const SQL_SPAN = { 'db.system.name': 'postgresql' } as const;
const FIRST_WORD = /^\s*([A-Za-z]+)/;

/** A statement's span name: its operation (`SELECT`, `INSERT`, `BEGIN`…), as OpenTelemetry's database conventions name it. */
function statementSpanName(text: string | undefined): string {
  const word = text === undefined ? undefined : FIRST_WORD.exec(text)?.[1];
  return word ? word.toUpperCase() : 'SQL';
}
