import { randomBytes } from 'node:crypto';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { buildSchema, execute, GraphQLError, locatedError, parse, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  DATABASE_BUSY,
  DATABASE_TIMEOUT,
  DATABASE_UNAVAILABLE,
  DatabaseUnavailableError,
  databaseBusy,
  databaseTimeout,
  databaseUnavailable,
} from '../../src/db/failures.js';
import { AppError, ErrorCode, formatError, formatResult, unexpectedErrors } from '../../src/errors.js';
import type { Context } from '../../src/graphql/context.js';
import { createLogger } from '../../src/platform/logger.js';
import { createApollo } from '../../src/server/apollo.js';
import { createMetrics } from '../../src/server/metrics.js';

const statementTimeout = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

const cases = [
  { name: 'busy', make: () => databaseBusy(), message: DATABASE_BUSY, reason: 'DATABASE_BUSY' },
  { name: 'unreachable', make: () => databaseUnavailable(refused), message: DATABASE_UNAVAILABLE, reason: 'DATABASE_UNAVAILABLE' },
  { name: 'unreachable, no driver error', make: () => databaseUnavailable(), message: DATABASE_UNAVAILABLE, reason: 'DATABASE_UNAVAILABLE' },
  { name: 'timed out', make: () => databaseTimeout(statementTimeout), message: DATABASE_TIMEOUT, reason: 'DATABASE_TIMEOUT' },
] as const;

/** How Drizzle hands on a driver's (or the pool's) error for a statement. */
const failedQuery = (cause: unknown) => new DrizzleQueryError('select "id" from "nights" where "id" = $1', ['n1'], cause as Error);

const document = parse('{ night }');
const fieldNode = () => (document.definitions[0] as { selectionSet: { selections: readonly unknown[] } }).selectionSet.selections[0];
/** A resolver's error as graphql-js locates it. */
const located = (error: unknown) => locatedError(error, [fieldNode() as never], ['night']);
/** What Apollo passes to `formatError`: the located error's JSON, INTERNAL_SERVER_ERROR when it has no code. */
const apolloFormatted = (error: GraphQLError): GraphQLFormattedError => {
  const json = error.toJSON();
  return { ...json, extensions: { ...json.extensions, code: json.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR } };
};

describe('the database layer’s failures', () => {
  it.each(cases)('are plain errors of their own, not GraphQL errors ($name)', ({ make, message, reason }) => {
    const error = make();
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(GraphQLError);
    expect('extensions' in error).toBe(false);
    expect(error).toMatchObject({ name: 'DatabaseUnavailableError', message, reason, retryAfterSeconds: 1 });
  });

  it('keep the driver’s error as their cause, for the logs', () => {
    expect(databaseUnavailable(refused).cause).toBe(refused);
    expect(databaseTimeout(statementTimeout).cause).toBe(statementTimeout);
    expect('cause' in databaseBusy()).toBe(false);
    expect('cause' in databaseUnavailable()).toBe(false);
  });
});

describe('formatError maps them to UNAVAILABLE', () => {
  it.each(cases)('thrown by a resolver ($name)', ({ make, message, reason }) => {
    const error = located(make());
    const expected = { message, locations: [{ line: 1, column: 3 }], path: ['night'], extensions: { code: 'UNAVAILABLE', reason, retryAfter: 1 } };
    expect(formatError(apolloFormatted(error), error, false)).toEqual(expected);
    expect(formatError(apolloFormatted(error), error, true)).toEqual(expected);
  });

  it.each(cases)('wrapped by Drizzle as a failed query, the statement not shown ($name)', ({ make, message, reason }) => {
    const error = located(failedQuery(make()));
    expect(error.message).toMatch(/^Failed query/);
    const expected = { message, path: ['night'], extensions: { code: 'UNAVAILABLE', reason, retryAfter: 1 } };
    expect(formatError(apolloFormatted(error), error, false)).toEqual(expected);
    expect(formatError(apolloFormatted(error), error, true)).toEqual(expected);
  });

  it('further down the chain of causes', () => {
    const error = located(new Error('booking failed', { cause: failedQuery(databaseUnavailable(refused)) }));
    expect(formatError(apolloFormatted(error), error, false)).toEqual({
      message: DATABASE_UNAVAILABLE,
      path: ['night'],
      extensions: { code: 'UNAVAILABLE', reason: 'DATABASE_UNAVAILABLE', retryAfter: 1 },
    });
  });

  it('only for the database layer’s own class: a look-alike stays masked', () => {
    const lookalike = located(Object.assign(new Error(DATABASE_BUSY), { reason: 'DATABASE_BUSY', retryAfterSeconds: 1 }));
    expect(formatError(apolloFormatted(lookalike), lookalike, false)).toEqual({
      message: 'Internal server error',
      locations: [{ line: 1, column: 3 }],
      path: ['night'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('and leaves AppErrors deeper down as they were', () => {
    const error = located(failedQuery(new AppError(ErrorCode.CONFLICT, 'Table T1 is already booked', { tableId: 't1' })));
    expect(formatError(apolloFormatted(error), error, false)).toEqual({
      message: 'Table T1 is already booked',
      path: ['night'],
      extensions: { code: 'CONFLICT', tableId: 't1' },
    });
  });

  it('are not logged as unexpected when thrown by a resolver; wrapped by Drizzle they are, with the statement', () => {
    const direct = located(databaseBusy());
    const wrapped = located(failedQuery(databaseBusy()));
    expect(unexpectedErrors([direct, wrapped])).toEqual([wrapped]);
  });
});

describe('over WebSocket (formatResult)', () => {
  const schema = schemaThrowing();

  it.each(cases)('an operation’s failure reaches the client as UNAVAILABLE ($name)', async ({ make, message, reason }) => {
    for (const thrown of [make, () => failedQuery(make())]) {
      currentFailure = thrown;
      const result = formatResult(await execute({ schema, document }), false);
      expect(result.errors?.map((e) => e.toJSON())).toEqual([
        expect.objectContaining({ message, path: ['night'], extensions: { code: 'UNAVAILABLE', reason, retryAfter: 1 } }),
      ]);
    }
  });
});

describe('over HTTP (Apollo, graphql-jit and the operation hooks)', () => {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: randomBytes(32).toString('hex'), LOG_LEVEL: 'silent', RATE_LIMIT_ENABLED: 'false' });
  const schema = schemaThrowing();

  it.each(cases)('answers 503 with Retry-After and the same error ($name)', async ({ make, message, reason }) => {
    const { apollo } = createApollo(schema, config, createMetrics(), createLogger('silent'));
    await apollo.start();
    try {
      for (const thrown of [make, () => failedQuery(make())]) {
        currentFailure = thrown;
        const response = await apollo.executeOperation({ query: '{ night }' }, { contextValue: {} as Context });
        expect(response.http.status).toBe(503);
        expect(response.http.headers.get('retry-after')).toBe('1');
        expect(response.body.kind === 'single' && response.body.singleResult.errors).toEqual([
          expect.objectContaining({ message, path: ['night'], extensions: { code: 'UNAVAILABLE', reason, retryAfter: 1 } }),
        ]);
      }
    } finally {
      await apollo.stop();
    }
  });
});

let currentFailure: () => unknown = () => databaseBusy();

function schemaThrowing(): GraphQLSchema {
  const schema = buildSchema('type Query { night: String }');
  schema.getQueryType()!.getFields().night!.resolve = () => {
    throw currentFailure();
  };
  return schema;
}
