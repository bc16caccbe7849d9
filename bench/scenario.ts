import type { Database } from '../src/db/client.js';
import type { Principal } from '../src/platform/auth.js';

/** One POST to /graphql, serialized once so the load generator only copies bytes. */
export interface BenchRequest {
  body: string;
  headers: Record<string, string>;
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

export interface PreparedScenario {
  /** The request to send next; called once per request, so it may rotate through users. */
  next(): BenchRequest;
  /** What is wrong with a probe answer's `data`, or undefined when it has the expected shape. */
  check(data: unknown): string | undefined;
  /** Deletes the scenario's rows; only needed with `--url`, a bench database is dropped whole. */
  remove(): Promise<void>;
}

/** A benchmark: one file under bench/scenarios/, listed in bench/scenarios/index.ts. */
export interface Scenario {
  name: string;
  /** Writes this scenario's share of the data set, then says how to load the server with it. */
  prepare(ctx: ScenarioContext): Promise<PreparedScenario>;
}

export function graphqlRequest(query: string, variables: Record<string, unknown>, token: string): BenchRequest {
  return {
    body: JSON.stringify({ query, variables }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  };
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
