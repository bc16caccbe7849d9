import { describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { AppError, ErrorCode, formatError } from '../../src/errors.js';

describe('formatError', () => {
  it('keeps our own errors as they are', () => {
    const error = new AppError(ErrorCode.CONFLICT, 'Table T1 is already booked', { tableId: 't1' });
    const formatted = formatError({ message: error.message, extensions: { ...error.extensions, stacktrace: ['x'] } }, error, false);
    expect(formatted).toEqual({ message: 'Table T1 is already booked', extensions: { code: 'CONFLICT', tableId: 't1' } });
  });

  it('masks anything else as INTERNAL_SERVER_ERROR without its message', () => {
    const leak = new GraphQLError('connect ECONNREFUSED postgres://admin:hunter2@db:5432', { path: ['clubs'] });
    const formatted = formatError({ message: leak.message, path: ['clubs'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }, leak, false);
    expect(formatted).toEqual({ message: 'Internal server error', path: ['clubs'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(formatted)).not.toContain('hunter2');
  });

  it('maps GraphQL request errors to BAD_USER_INPUT and unknown codes to INTERNAL_SERVER_ERROR', () => {
    expect(formatError({ message: 'Cannot query field', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, null, false).extensions).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'GRAPHQL_VALIDATION_FAILED',
    });
    expect(formatError({ message: 'odd', extensions: { code: 'SOMETHING_ELSE' } }, null, false).extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('shows internal messages only when asked to (development)', () => {
    const formatted = formatError({ message: 'boom', extensions: { code: 'INTERNAL_SERVER_ERROR' } }, new Error('boom'), true);
    expect(formatted.message).toBe('boom');
    expect(formatted.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  });
});

describe('the error codes in the schema', () => {
  it('are exactly the closed set the server raises, so generated clients get every code as a type', async () => {
    const { typeDefs } = await import('../../src/graphql/schema.js');
    const { buildSchema: fromSdl, GraphQLEnumType } = await import('graphql');
    const declared = fromSdl(typeDefs).getType('ErrorCode');
    expect(declared).toBeInstanceOf(GraphQLEnumType);
    expect((declared as InstanceType<typeof GraphQLEnumType>).getValues().map((v) => v.name).sort()).toEqual(Object.values(ErrorCode).sort());
  });
});
