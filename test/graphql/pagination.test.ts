import { describe, expect, it } from 'vitest';
import { encodeCursor, pageRequest, toConnection } from '../../src/graphql/pagination.js';

describe('page requests', () => {
  it('defaults first to 20 and caps it at 100', () => {
    expect(pageRequest(undefined, undefined, 1)).toEqual({ first: 20, after: null });
    expect(pageRequest(500, null, 1).first).toBe(100);
    expect(pageRequest(0, null, 1).first).toBe(0);
  });

  it('decodes the cursors it encodes, and only those of the right shape', () => {
    const cursor = encodeCursor(['2026-11-21T22:00:00.000Z', 'abc']);
    expect(pageRequest(5, cursor, 2).after).toEqual(['2026-11-21T22:00:00.000Z', 'abc']);
    expect(() => pageRequest(5, cursor, 1)).toThrow(/not a cursor/);
    expect(() => pageRequest(5, 'garbage!', 2)).toThrow(/not a cursor/);
    expect(() => pageRequest(5, encodeCursor([]), 2)).toThrow(/not a cursor/);
    expect(() => pageRequest(-1, null, 1)).toThrow(/zero or more/);
  });
});

describe('toConnection', () => {
  const info = (connection: { pageInfo: object }) => {
    const { hasNextPage, hasPreviousPage, startCursor, endCursor } = connection.pageInfo as Record<string, unknown>;
    return { hasNextPage, hasPreviousPage, startCursor, endCursor };
  };

  it('uses the extra row only to tell that another page exists, and a cursor that one came before', () => {
    const page = toConnection([{ id: 'a' }, { id: 'b' }, { id: 'c' }], { first: 2, after: null }, (r) => [r.id]);
    expect(page.edges.map((e) => e.node.id)).toEqual(['a', 'b']);
    expect(info(page)).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: encodeCursor(['a']), endCursor: encodeCursor(['b']) });
    const last = toConnection([{ id: 'c' }], { first: 2, after: ['b'] }, (r) => [r.id]);
    expect(info(last)).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: encodeCursor(['c']), endCursor: encodeCursor(['c']) });
    expect(info(toConnection([], { first: 2, after: null }, () => []))).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null });
  });
});
