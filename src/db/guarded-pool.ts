import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import type { Config } from '../config.js';
import type { Logger } from '../platform/logger.js';
import { answeredWhenSettled, statementSent, timeStatement } from '../platform/sql-stats.js';
import { DatabaseUnavailableError, databaseBusy, databaseTimeout, databaseUnavailable } from './failures.js';

/** Pool usage: connections running a statement or transaction, callers waiting for one, and the pool size. */
export interface PoolStats {
  inUse: number;
  waiting: number;
  max: number;
}

const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;
/** A statement (or connection attempt) unanswered for this long makes us check that PostgreSQL is there. */
const SUSPECT_AFTER_MS = 1_000;
/** How long the check may take: connect, authenticate, `select 1`. */
const PROBE_TIMEOUT_MS = 3_000;
/** Between checks while PostgreSQL is unreachable (and at least this long between checks while it is fine). */
const PROBE_INTERVAL_MS = 500;
const WATCH_INTERVAL_MS = 250;
/**
 * Beyond the statement timeout, how long a statement may go unanswered before its caller
 * is given up on: PostgreSQL would have cancelled it, so the answer was lost on the way.
 */
const ANSWER_GRACE_MS = 1_000;

export function postgresOptions(config: Extract<Config['database'], { kind: 'postgres' }>, max: number, onclose?: () => void) {
  return {
    max,
    ...(onclose ? { onclose } : {}),
    connect_timeout: config.connectTimeoutS,
    idle_timeout: 30,
    // postgres.js waits up to 20 s between connection attempts after repeated failures
    // (3^n / 100 s); when PostgreSQL returns, the first request would wait that long.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    onnotice: () => {},
    // postgres.js 3.4.9 skips reserving a transaction's connection when its BEGIN is the
    // query that fills the connection's pipeline (porsager/postgres#823, #1189; fixes in
    // open PRs #1207, #1218): BEGIN reaches PostgreSQL, the call fails with
    // UNSAFE_TRANSACTION and the connection returns to the pool inside a transaction.
    // Measured here under the availability-storm bench. A pipeline that never fills
    // keeps BEGIN off that path.
    max_pipeline: Number.MAX_SAFE_INTEGER,
    connection: {
      // Every statement is bounded; a stuck query cannot hold a pooled connection forever.
      statement_timeout: config.statementTimeoutMs,
      // The server ends any transaction left open on a connection, whatever left it so.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
      application_name: 'nightgraph',
    },
    // `max_pipeline` is a postgres.js option its type declarations leave out.
  } as postgres.Options<Record<string, postgres.PostgresType>>;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/** One caller's use of a pooled connection: a statement, or a transaction from BEGIN to COMMIT. */
class Lease {
  /** Since when a statement of it has been waiting for an answer; undefined while none is. */
  since: number | undefined;
  private pending = 0;
  private released = false;
  private abandon!: (error: unknown) => void;
  /** Rejects when the caller is given up on (PostgreSQL unreachable): it must not wait for the driver. */
  readonly abandoned = new Promise<never>((_, reject) => {
    this.abandon = reject;
  });

  constructor(private readonly onRelease: () => void) {
    this.abandoned.catch(() => {});
  }
  /** Gives the connection back, once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
  sending(): void {
    if (this.pending++ === 0) this.since = performance.now();
  }
  answered(): void {
    if (--this.pending === 0) this.since = undefined;
  }
  fail(error: unknown): void {
    this.abandon(error);
  }
}

/**
 * The postgres.js pool with what it lacks: a bound on the wait for a connection, clear
 * errors, and failing fast while PostgreSQL is unreachable.
 *
 * - **Bounded wait.** postgres.js never refuses work: when every connection is busy it
 *   pipelines a statement behind a running one (or queues it) for as long as that takes.
 *   Here each statement outside a transaction, and each transaction, holds one of `max`
 *   leases while it runs, so it always has a connection to itself; a caller that finds
 *   none free waits at most DB_POOL_WAIT_TIMEOUT_MS, then gets DATABASE_BUSY.
 * - **Knowing PostgreSQL is gone.** A connection error, or a statement unanswered for
 *   SUSPECT_AFTER_MS, starts a check (`select 1` on a connection of its own, bounded).
 *   If it fails, PostgreSQL is unreachable: every caller waiting or running gets
 *   DATABASE_UNAVAILABLE at once, new ones get it without trying, the pool is replaced
 *   (its connections may be dead without knowing it) and the check repeats every
 *   PROBE_INTERVAL_MS until PostgreSQL answers. Nothing restarts.
 */
export class GuardedPool {
  client: postgres.Sql;
  private state: 'up' | 'down' = 'up';
  private inUse = 0;
  private readonly max: number;
  private readonly waitTimeoutMs: number;
  private readonly waiting: Waiter[] = [];
  private readonly leases = new Set<Lease>();
  private probeClient: postgres.Sql | undefined;
  private probing: Promise<void> | undefined;
  private probedAt = -Infinity;
  private reprobe: ReturnType<typeof setTimeout> | undefined;
  private readonly watchdog: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(
    private readonly config: Extract<Config['database'], { kind: 'postgres' }>,
    private readonly logger: Pick<Logger, 'warn' | 'info'> | undefined,
  ) {
    this.max = config.poolMax;
    this.waitTimeoutMs = config.poolWaitTimeoutMs ?? 2_000;
    this.client = this.createPool();
    this.watchdog = setInterval(() => this.watch(), WATCH_INTERVAL_MS);
    this.watchdog.unref();
  }

  /**
   * A connection that closes may take a statement with it unanswered: postgres.js can hand
   * a statement to a connection between its socket's error and close, and then neither
   * answers nor fails it. A close makes us check PostgreSQL at once.
   */
  private createPool(): postgres.Sql {
    return postgres(this.config.url, postgresOptions(this.config, this.max, () => this.suspect(true)));
  }

  stats(): PoolStats {
    return { inUse: this.inUse, waiting: this.waiting.length, max: this.max };
  }

  /**
   * The client Drizzle sees. Every statement it sends — on the pool, in a transaction or
   * a savepoint — is counted and timed for the current request, and so is every one
   * postgres.js sends for a transaction of it (BEGIN, COMMIT or ROLLBACK, SAVEPOINT,
   * ROLLBACK TO). Drizzle's are sent as prepared statements: Drizzle sends unnamed
   * statements unless each query is given a name, and
   * PostgreSQL then plans every execution afresh: measured here, planning the
   * availability join took 1.1 ms against 0.17 ms to run it. postgres.js caches one
   * prepared statement per statement text and connection; the texts are few because
   * lists of ids travel as one array parameter (see `anyId`). Reads `this.client` on every
   * call: the pool is replaced after an outage.
   */
  instrumented(): postgres.Sql {
    return new Proxy(this.client, {
      get: (_target, property) => {
        const target = this.client;
        if (property === 'unsafe') {
          return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
            onFirstAwait(target.unsafe(query, params, { ...options, prepare: true }), (send) =>
              this.lease(() => timeStatement(send, query)),
            );
        }
        if (property === 'begin') return (...args: unknown[]) => this.transaction(target, args);
        return Reflect.get(target, property, target);
      },
      apply: (_target, thisArg, args) => Reflect.apply(this.client, thisArg, args),
    });
  }

  /**
   * `begin(options?, callback)` on a lease of its own. postgres.js sends BEGIN and calls
   * the callback once it is answered; when the callback settles it sends COMMIT (or
   * ROLLBACK) and settles once that is answered. Both are counted here, as sent.
   */
  private transaction(target: postgres.Sql, args: unknown[]): Promise<unknown> {
    const callback = args.pop() as (tx: postgres.Sql) => unknown;
    const begin = target.begin as (...a: unknown[]) => Promise<unknown>;
    const options = typeof args[0] === 'string' ? args[0] : '';
    return this.lease((lease) => {
      const begun = statementSent(`begin ${options}`.trim());
      let ended: (() => void) | undefined;
      const sent = begin.call(target, ...args, (tx: postgres.Sql) => {
        begun();
        lease.answered(); // BEGIN
        return outcomeOf(() => callback(this.inTransaction(tx, lease))).then(
          (value) => {
            ended = statementSent('commit');
            lease.sending();
            return value;
          },
          (error: unknown) => {
            ended = statementSent('rollback');
            lease.sending();
            throw error;
          },
        );
      });
      // A BEGIN that failed was answered too, with its error.
      answeredWhenSettled(sent, begun, () => ended);
      return sent;
    });
  }

  private inTransaction(tx: postgres.Sql, lease: Lease): postgres.Sql {
    return new Proxy(tx, {
      get: (target, property, receiver) => {
        if (property === 'unsafe') {
          return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
            onFirstAwait(target.unsafe(query, params, { ...options, prepare: true }), (send) =>
              this.within(lease, () => timeStatement(send, query)),
            );
        }
        if (property === 'savepoint') return (...args: unknown[]) => this.savepoint(target, lease, args);
        return Reflect.get(target, property, receiver);
      },
    });
  }

  /**
   * `savepoint(name?, callback)` in a transaction. postgres.js sends SAVEPOINT and calls
   * the callback once it is answered; if the callback fails it sends ROLLBACK TO the
   * savepoint, if it succeeds nothing (no RELEASE: COMMIT releases it). Counted as sent.
   */
  private savepoint(target: postgres.Sql, lease: Lease, args: unknown[]): Promise<unknown> {
    const callback = args.pop() as (sp: postgres.Sql) => unknown;
    const savepoint = (target as unknown as postgres.TransactionSql).savepoint as (...a: unknown[]) => Promise<unknown>;
    const saved = statementSent('savepoint');
    let rolledBack: (() => void) | undefined;
    const sent = savepoint.call(target, ...args, (sp: postgres.Sql) => {
      saved();
      return outcomeOf(() => callback(this.inTransaction(sp, lease))).catch((error: unknown) => {
        rolledBack = statementSent('rollback to savepoint');
        throw error;
      });
    });
    answeredWhenSettled(sent, saved, () => rolledBack);
    return sent;
  }

  /** Runs `send` holding a lease: a connection to itself, or DATABASE_BUSY after the wait. */
  private async lease<T>(send: (lease: Lease) => PromiseLike<T>): Promise<T> {
    if (this.state === 'down') throw databaseUnavailable();
    if (this.inUse < this.max && this.waiting.length === 0) this.inUse += 1;
    else await this.queue();
    const lease: Lease = new Lease(() => {
      this.leases.delete(lease);
      this.release();
    });
    this.leases.add(lease);
    lease.sending();
    let sent: Promise<T>;
    try {
      sent = Promise.resolve(send(lease));
    } catch (error) {
      sent = Promise.reject(error);
    }
    // The lease is held until the driver is done with the connection, even if the caller
    // was given up on: until then postgres.js would pipeline another statement behind it.
    sent.then(
      () => lease.release(),
      () => lease.release(),
    );
    try {
      return await Promise.race([sent, lease.abandoned]);
    } catch (error) {
      throw this.translate(error);
    }
  }

  /** A statement of a transaction: its lease is the transaction's. */
  private async within<T>(lease: Lease, send: () => Promise<T>): Promise<T> {
    lease.sending();
    try {
      return await Promise.race([send(), lease.abandoned]);
    } catch (error) {
      throw this.translate(error);
    } finally {
      lease.answered();
    }
  }

  private queue(): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(databaseBusy());
        }, this.waitTimeoutMs),
      };
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (!next) {
      this.inUse -= 1;
      return;
    }
    // The lease passes straight to the next caller.
    clearTimeout(next.timer);
    next.resolve();
  }

  private translate(error: unknown): unknown {
    // Already one of ours: the wait for a lease ran out, or the caller was given up on.
    if (error instanceof DatabaseUnavailableError) return error;
    if (isConnectionFailure(error)) {
      this.suspect(true);
      return databaseUnavailable(error);
    }
    if (isStatementTimeout(error)) return databaseTimeout(error);
    return error;
  }

  private watch(): void {
    const now = performance.now();
    const lost = this.config.statementTimeoutMs + ANSWER_GRACE_MS;
    for (const lease of this.leases) {
      if (lease.since === undefined) continue;
      if (now - lease.since > SUSPECT_AFTER_MS) this.suspect();
      // Its answer is not coming (PostgreSQL is there, or the check would have failed it):
      // the caller and the connection move on.
      if (now - lease.since > lost) {
        lease.fail(databaseTimeout(new Error(`no answer within ${lost} ms`)));
        lease.release();
      }
    }
  }

  /** Checks PostgreSQL unless a check runs; `urgent` (a connection failed) even if one just ran. */
  private suspect(urgent = false): void {
    if (this.state === 'down' || this.probing || this.closed) return;
    if (!urgent && performance.now() - this.probedAt < PROBE_INTERVAL_MS) return;
    this.probe().catch(() => {});
  }

  async ping(): Promise<void> {
    if (this.closed) throw databaseUnavailable();
    if (this.state === 'down') throw databaseUnavailable();
    await this.probe();
  }

  /** One check at a time, shared by everyone who asks meanwhile. */
  private probe(): Promise<void> {
    return (this.probing ??= this.check().finally(() => {
      this.probing = undefined;
      this.probedAt = performance.now();
    }));
  }

  private async check(): Promise<void> {
    const client = (this.probeClient ??= postgres(this.config.url, { ...postgresOptions(this.config, 1), idle_timeout: 60 }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.unsafe('select 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
        }),
      ]);
      this.markUp();
    } catch (error) {
      // Out of connection slots: PostgreSQL is there, only full.
      if (pgCode(error) === '53300') return this.markUp();
      // A check stuck connecting must not hold up the next one.
      this.probeClient = undefined;
      void client.end({ timeout: 0 }).catch(() => {});
      this.markDown(error);
      throw databaseUnavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  private markUp(): void {
    if (this.state === 'up') return;
    this.state = 'up';
    clearTimeout(this.reprobe);
    this.logger?.info('PostgreSQL answers again: serving requests');
  }

  private markDown(error: unknown): void {
    if (this.closed) return;
    if (this.state === 'up') {
      this.state = 'down';
      this.logger?.warn({ err: error }, 'PostgreSQL is unreachable: requests fail at once until it answers again');
      for (const waiter of this.waiting.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(databaseUnavailable(error));
      }
      for (const lease of this.leases) lease.fail(databaseUnavailable(error));
      // Its connections may be dead without knowing it (a silent network); ending them
      // also settles what the given-up callers left running.
      const old = this.client;
      this.client = this.createPool();
      Object.assign(this.client.options.parsers, old.options.parsers);
      Object.assign(this.client.options.serializers, old.options.serializers);
      void old.end({ timeout: 0 }).catch(() => {});
    }
    clearTimeout(this.reprobe);
    this.reprobe = setTimeout(() => {
      if (!this.closed) this.probe().catch(() => {});
    }, PROBE_INTERVAL_MS);
    this.reprobe.unref();
  }

  async close(force: boolean): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    clearTimeout(this.reprobe);
    await Promise.all([this.client.end({ timeout: force ? 0 : 5 }), this.probeClient?.end({ timeout: 0 })]);
  }
}

/**
 * postgres.js queries are lazy promises that run when first awaited, configured by
 * chained calls (`.values()`) before. `run` does that first await's work, given the
 * driver's own `then` as `send`; its outcome is shared by every later await (postgres.js
 * awaits a transaction's statements a second time, through `catch`).
 */
function onFirstAwait<Q extends PromiseLike<unknown>>(query: Q, run: (send: () => PromiseLike<unknown>) => Promise<unknown>): Q {
  const then = query.then.bind(query);
  let outcome: Promise<unknown> | undefined;
  Object.defineProperty(query, 'then', {
    configurable: true,
    value: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
      (outcome ??= run(() => ({ then }))).then(onFulfilled, onRejected),
  });
  return query;
}

/** `fn`'s result as a promise, rejected if `fn` throws. */
function outcomeOf(fn: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Errors that mean PostgreSQL could not be reached or dropped the connection. */
const CONNECTION_FAILURES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // postgres.js
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down)
  '57P01',
  '57P02',
  '57P03',
]);

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isConnectionFailure(error: unknown): boolean {
  const code = pgCode(error);
  return code !== undefined && CONNECTION_FAILURES.has(code);
}

function isStatementTimeout(error: unknown): boolean {
  return pgCode(error) === '57014' && /statement timeout/.test((error as Error).message);
}
