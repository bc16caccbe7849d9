import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

/** What one request (or any other unit of work) asked of the database. */
export interface SqlStats {
  statements: number;
  durationMs: number;
}

const storage = new AsyncLocalStorage<SqlStats>();
/** `text` is the statement as sent, with placeholders: parameter values are never reported. */
type StatementObserver = (durationMs: number, text: string | undefined) => void;
const observers = new Set<StatementObserver>();

export function newSqlStats(): SqlStats {
  return { statements: 0, durationMs: 0 };
}

/** Runs `fn` with `stats` as the counter: every statement sent inside it, however deep, is counted. */
export function countSqlIn<T>(stats: SqlStats, fn: () => T): T {
  return storage.run(stats, fn);
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
 * Counts a statement when it is sent and adds its round-trip time when it settles.
 * The counter is the one of the async context that sent it, so concurrent requests
 * never see each other's statements. `text` (the statement with its placeholders, never
 * its parameters) is passed on to observers, for the slow-statement log.
 */
export function timeStatement<T>(run: () => PromiseLike<T>, text?: string): Promise<T> {
  const stats = storage.getStore();
  if (stats) stats.statements += 1;
  const started = performance.now();
  const settle = () => {
    const elapsed = performance.now() - started;
    if (stats) stats.durationMs += elapsed;
    for (const observe of observers) observe(elapsed, text);
  };
  return Promise.resolve(run()).then(
    (value) => {
      settle();
      return value;
    },
    (error: unknown) => {
      settle();
      throw error;
    },
  );
}
