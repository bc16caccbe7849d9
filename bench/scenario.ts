import type { IncomingHttpHeaders } from 'node:http';
import type { Database } from '../src/db/client.js';
import type { Principal } from '../src/platform/auth.js';

/** One POST to /graphql, serialized once so the load generator only copies bytes. */
export interface BenchRequest {
  body: string;
  headers: Record<string, string>;
  /** What the request is about (e.g. a night id), for an `Observer`. */
  key?: string;
}

export interface ScenarioContext {
  db: Database;
  /** Multiplies the size of the data set (users, streamers, deposits), never the shape of a query. */
  scale: number;
  /**
   * Prefix of every natural key the scenario writes (slugs, subjects, handles), so that
   * runs against a database that outlives the bench (`--url`) never collide.
   */
  tag: string;
  sign(principal: Principal): Promise<string>;
}

/** A prepared scenario: an HTTP load the harness applies, or a run of its own. */
export type PreparedScenario = PreparedLoad | PreparedRun;

export interface PreparedLoad {
  kind?: 'load';
  /** The request to send next; called once per request, so it may rotate through users. */
  next(): BenchRequest;
  /** What is wrong with a probe answer's `data`, or undefined when it has the expected shape. */
  check(data: unknown): string | undefined;
  /** Deletes the scenario's rows; only needed with `--url`, a bench database is dropped whole. */
  remove(): Promise<void>;
  /** A fresh observer per measured run: sees every 2xx answer of the load. */
  observe?(): Observer;
  /**
   * Work started with the warm-up and stopped when the measured run ends; `variant` is the
   * label of the server variant being measured (undefined: no side load for this one).
   */
  alongside?(url: string, signal: AbortSignal, variant: string): SideLoad | undefined;
}

/** A scenario that drives the server itself (e.g. WebSockets) instead of the HTTP load. */
export interface PreparedRun {
  kind: 'run';
  run(ctx: RunContext): Promise<Summary>;
  remove(): Promise<void>;
}

export interface RunContext {
  /** Starts the bench server with `env` added (or returns `--url`'s server, env ignored). */
  startServer(env?: Record<string, string>): Promise<StartedServer>;
  /** The database the servers use, e.g. to start one that reaches it some other way (a proxy). */
  databaseUrl: string;
  /** `--connections`, or the scenario's default. */
  connections: number;
  durationS: number;
  signal: AbortSignal;
  log(message: string): void;
}

export interface StartedServer {
  /** The /graphql endpoint. */
  url: string;
  /** The server's process id; undefined for a server the bench did not start. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Lines printed under a measurement, and fields added to its JSON result. */
export interface Summary {
  lines: string[];
  fields: Record<string, unknown>;
}

/** A 2xx answer of the load, as an `Observer` sees it. */
export interface Answer {
  request: BenchRequest;
  body: string;
  headers: IncomingHttpHeaders;
  latencyMs: number;
}

export interface Observer {
  /** `connection` is the same object for every answer on one autocannon connection. */
  see(answer: Answer, connection: object): void;
  summary(): Summary;
}

/** One observer that shows every answer to each of `observers`. */
export function allOf(...observers: Observer[]): Observer {
  return {
    see: (answer, connection) => observers.forEach((o) => o.see(answer, connection)),
    summary: () => {
      const summaries = observers.map((o) => o.summary());
      return { lines: summaries.flatMap((s) => s.lines), fields: Object.assign({}, ...summaries.map((s) => s.fields)) };
    },
  };
}

export interface SideLoad {
  /** The measured run starts: forget what was counted during the warm-up. */
  measuring(): void;
  stop(): Promise<Summary>;
}

/** A server configuration to measure, e.g. with the response cache off. */
export interface ServerVariant {
  label: string;
  /** Added to the server's environment. */
  env: Record<string, string>;
  /** Measured without a rate, whatever `--rate` says: the closed-loop maximum next to a rate-limited run. */
  closedLoop?: boolean;
  /** A floor to run instead of the server (bench/floors/*): the first variant's figures are printed ÷ it. */
  floor?: string;
  /** With OpenTelemetry tracing on, exporting every span to a local OTLP sink (bench/otlp-sink.ts). */
  traced?: boolean;
}

/** A benchmark: one file under bench/scenarios/, listed in bench/scenarios/index.ts. */
export interface Scenario {
  name: string;
  /** Default for `--connections`. */
  connections?: number;
  /** Default for `--rate`. */
  rate?: number;
  /** Servers to measure, the first compared with the second; default batched vs naive loaders. */
  variants?: readonly ServerVariant[];
  /** Writes this scenario's share of the data set, then says how to load the server with it. */
  prepare(ctx: ScenarioContext): Promise<PreparedScenario>;
}

/** Cycles through `items`, one per call. */
export function rotate<T>(items: readonly T[]): () => T {
  if (items.length === 0) throw new Error('nothing to rotate through');
  let index = -1;
  return () => {
    index = (index + 1) % items.length;
    return items[index]!;
  };
}

/** `items` in a random order, shuffled in place. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
