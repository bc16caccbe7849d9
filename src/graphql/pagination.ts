import { badInput } from '../errors.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** What a connection field asks for: how many rows, after which keyset position. */
export interface PageRequest {
  first: number;
  after: readonly (string | number)[] | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * Validates `first`/`after`. `first` defaults to 20 and is capped at 100; a negative
 * `first` or a cursor this server did not issue is BAD_USER_INPUT.
 */
export function pageRequest(first: number | null | undefined, after: string | null | undefined, arity: number): PageRequest {
  if (first != null && first < 0) throw badInput(`"first" must be zero or more, got ${first}`);
  return {
    first: Math.min(first ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    after: after == null ? null : decodeCursor(after, arity),
  };
}

export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

function decodeCursor(cursor: string, arity: number): (string | number)[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(values) &&
      values.length === arity &&
      values.every((v) => typeof v === 'string' || typeof v === 'number')
    ) {
      return values;
    }
  } catch {
    // fall through to the error below
  }
  throw badInput(`"after" is not a cursor from this connection: ${JSON.stringify(cursor)}`);
}

/**
 * Builds a connection from up to `first + 1` rows fetched in order: the extra row only
 * tells that another page exists; a page asked for after a cursor has one before it.
 */
export function toConnection<R, T = R>(
  rows: readonly R[],
  request: PageRequest,
  cursorOf: (row: R) => readonly (string | number)[],
  nodeOf: (row: R) => T = (row) => row as unknown as T,
): Connection<T> & { rows: R[] } {
  const page = rows.slice(0, request.first);
  const edges = page.map((row) => new Edge(row, nodeOf(row), cursorOf));
  return {
    rows: page,
    edges,
    pageInfo: new PageInfo(edges, rows.length > request.first, request.after !== null),
  };
}

/** Relay's page info; the cursors are encoded only if a client asks for them. */
class PageInfo<T> {
  constructor(
    private readonly edges: readonly { cursor: string; node: T }[],
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
  ) {}
  get startCursor(): string | null {
    return this.edges[0]?.cursor ?? null;
  }
  get endCursor(): string | null {
    return this.edges.at(-1)?.cursor ?? null;
  }
}

/** An edge whose cursor is encoded only if a client asks for it (most lists never do). */
class Edge<R, T> {
  constructor(
    private readonly row: R,
    readonly node: T,
    private readonly cursorOf: (row: R) => readonly (string | number)[],
  ) {}

  get cursor(): string {
    return encodeCursor(this.cursorOf(this.row));
  }
}

/** A stable key for DataLoaders keyed by (parent, page). */
export function pageKey(page: PageRequest): string {
  return `${page.first}:${page.after ? JSON.stringify(page.after) : ''}`;
}
