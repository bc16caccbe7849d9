import { GraphQLError, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { DatabaseUnavailableError } from './db/failures.js';

/** The closed set of `extensions.code` values clients can rely on. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  CONFLICT: 'CONFLICT',
  HOLD_EXPIRED: 'HOLD_EXPIRED',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** A channel this server was not configured for (Telegram without its bot settings). */
  NOT_CONFIGURED: 'NOT_CONFIGURED',
  RATE_LIMITED: 'RATE_LIMITED',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** The database is busy, unreachable or did not answer in time: retry (HTTP 503 with Retry-After). */
  UNAVAILABLE: 'UNAVAILABLE',
  /**
   * A request named a persisted document by a hash or id the server does not hold (Apollo's
   * code and message, HTTP 200): a persisted-query link then sends the document's text once.
   */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** TRUSTED_DOCUMENTS=enforce and the request's document is not in the manifest (HTTP 400); nothing was parsed. */
  TRUSTED_DOCUMENT_REQUIRED: 'TRUSTED_DOCUMENT_REQUIRED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const knownCodes = new Set<string>(Object.values(ErrorCode));

/**
 * An error meant for the client: its message and code are part of the API.
 * Anything else thrown while resolving is masked by `formatError`.
 */
export class AppError extends GraphQLError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message, { extensions: { code, ...details } });
    this.name = 'AppError';
  }
  get code(): ErrorCode {
    return this.extensions.code as ErrorCode;
  }
}

export const unauthenticated = (message = 'Sign in: this field needs a valid bearer token') =>
  new AppError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message: string) => new AppError(ErrorCode.FORBIDDEN, message);
export const notFound = (what: string, id: string) =>
  new AppError(ErrorCode.NOT_FOUND, `${what} ${JSON.stringify(id)} does not exist`);
export const badInput = (message: string, details?: Record<string, unknown>) =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, details);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new AppError(ErrorCode.CONFLICT, message, details);

/** Any thrown value as a GraphQL error: GraphQL errors as they are, anything else wrapped with it as the cause. */
export function asGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  if (!(error instanceof Error)) return new GraphQLError(`Unexpected error value: ${String(error)}`);
  return new GraphQLError(error.message, { originalError: error });
}

/**
 * Shapes every error that leaves the server. Errors we raised on purpose keep their
 * message; GraphQL's own request errors (parse, validation, variable coercion) become
 * BAD_USER_INPUT; everything else is an internal error whose message is hidden unless
 * `exposeInternals`. Never throws.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, exposeInternals: boolean): GraphQLFormattedError {
  try {
    return formatOrThrow(formatted, error, exposeInternals);
  } catch {
    return { message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  }
}

function formatOrThrow(formatted: GraphQLFormattedError, error: unknown, exposeInternals: boolean): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && knownCodes.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
    const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
    return exposeInternals ? formatted : { ...formatted, extensions };
  }
  // The database could not serve the request: UNAVAILABLE, which HTTP answers with 503
  // and Retry-After. Thrown by a resolver it is the located error's own; deeper down
  // (Drizzle wraps what the database layer throws as a failed query), its message replaces
  // the wrapper's.
  const found = code === undefined || code === ErrorCode.INTERNAL_SERVER_ERROR ? findOurs(error) : undefined;
  if (found instanceof DatabaseUnavailableError) {
    const extensions = { code: ErrorCode.UNAVAILABLE, reason: found.reason, retryAfter: found.retryAfterSeconds };
    if (error === found || (error instanceof GraphQLError && error.originalError === found)) return { ...formatted, extensions };
    return { message: found.message, ...(formatted.path ? { path: formatted.path } : {}), extensions };
  }
  // One of ours deeper down: its message and code.
  if (found && code === ErrorCode.INTERNAL_SERVER_ERROR) {
    const { http: _http, ...extensions } = found.extensions;
    return { message: found.message, ...(formatted.path ? { path: formatted.path } : {}), extensions };
  }
  // The parser's token limit arrives as a parse error; a limit rule's error wrapped as a validation error.
  const original = error instanceof GraphQLError ? error.originalError : undefined;
  const tokenLimit = code === 'GRAPHQL_PARSE_FAILED' ? tokenLimitMessage(formatted.message) : undefined;
  if (tokenLimit) return { message: tokenLimit, extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } };
  if (code === 'GRAPHQL_VALIDATION_FAILED' && original instanceof GraphQLError && original.extensions.code === ErrorCode.QUERY_TOO_COMPLEX) {
    return { message: formatted.message, ...(formatted.locations ? { locations: formatted.locations } : {}), extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } };
  }
  if (code === 'GRAPHQL_PARSE_FAILED' || code === 'GRAPHQL_VALIDATION_FAILED' || code === 'BAD_REQUEST') {
    return { ...formatted, extensions: { code: ErrorCode.BAD_USER_INPUT, reason: code } };
  }
  if (code === 'PERSISTED_QUERY_NOT_SUPPORTED' || code === 'OPERATION_RESOLUTION_FAILURE') {
    return { ...formatted, extensions: { code: ErrorCode.BAD_USER_INPUT, reason: code } };
  }
  // graphql-js's and Apollo's own request errors (bad variables, a persisted query whose
  // hash does not match, …) carry no code of their own (Apollo fills in INTERNAL_SERVER_ERROR),
  // no path and no cause.
  if ((code === undefined || code === ErrorCode.INTERNAL_SERVER_ERROR) && error instanceof GraphQLError && !error.originalError && !error.path) {
    return { message: formatted.message, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  // PostgreSQL refused a value (class 22: a NUL byte, a malformed number, …): the input was bad.
  const data = findPgError(error);
  if (data?.code?.startsWith('22')) {
    return { message: 'An input value is not acceptable (invalid characters or out of range)', extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  if (exposeInternals) {
    return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR } };
  }
  void error;
  return {
    message: 'Internal server error',
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

/**
 * Our message for graphql-js's parser stopping at its `maxTokens` ("Document contains more
 * that N tokens", sic, in graphql 16); undefined for any other parse error.
 */
export function tokenLimitMessage(message: string): string | undefined {
  const limit = /Document contains more th(?:an|at) (\d+) tokens/.exec(message)?.[1];
  return limit === undefined ? undefined : `Query token limit of ${limit} exceeded.`;
}

/** Postgres unique_violation, as raised by both postgres.js and PGlite. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = findPgError(error);
  return e?.code === '23505' && (constraint === undefined || e.constraint_name === constraint || e.constraint === constraint);
}

/** Postgres exclusion_violation (an EXCLUDE constraint, e.g. overlapping time ranges). */
export function isExclusionViolation(error: unknown, constraint?: string): boolean {
  const e = findPgError(error);
  return e?.code === '23P01' && (constraint === undefined || e.constraint_name === constraint || e.constraint === constraint);
}

interface PgErrorLike {
  code?: string;
  constraint?: string;
  constraint_name?: string;
}

/** The nearest AppError or DatabaseUnavailableError along the chain of `originalError`s and `cause`s. */
function findOurs(error: unknown): AppError | DatabaseUnavailableError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth += 1) {
    if (current instanceof AppError || current instanceof DatabaseUnavailableError) return current;
    const next = current as { cause?: unknown; originalError?: unknown };
    current = next.originalError ?? next.cause;
  }
  return undefined;
}

function findPgError(error: unknown): PgErrorLike | undefined {
  // GraphQL wraps a resolver's error as `originalError`; Drizzle wraps driver errors in
  // DrizzleQueryError with the original as `cause`.
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth += 1) {
    const candidate = current as PgErrorLike & { cause?: unknown; originalError?: unknown };
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) return candidate;
    current = candidate.originalError ?? candidate.cause;
  }
  return undefined;
}

/**
 * The errors that are not ours: clients see them masked, logs keep them. The database
 * failing a resolver's call is expected (the pool logs outages itself); one Drizzle
 * wrapped as a failed query is logged, with its statement.
 */
export function unexpectedErrors(errors: readonly GraphQLError[] | undefined): GraphQLError[] {
  return (errors ?? []).filter((error) => {
    const code = error.extensions?.code;
    if (error.originalError instanceof DatabaseUnavailableError) return false;
    return (code === undefined || code === ErrorCode.INTERNAL_SERVER_ERROR) && (error.originalError !== undefined || error.path !== undefined);
  });
}

/** `formatError` for results that do not pass through Apollo (WebSocket operations). */
export function formatResult(result: ExecutionResult, exposeInternals: boolean): ExecutionResult {
  if (!result.errors?.length) return result;
  return {
    ...result,
    errors: result.errors.map((error) => {
      const json: GraphQLFormattedError =
        typeof error.toJSON === 'function' ? error.toJSON() : { message: String((error as { message?: unknown }).message) };
      const formatted = formatError(json, error, exposeInternals);
      const formattedError = new GraphQLError(formatted.message, {
        ...(formatted.path ? { path: formatted.path } : {}),
        ...(formatted.extensions ? { extensions: formatted.extensions } : {}),
      });
      if (formatted.locations) Object.assign(formattedError, { locations: formatted.locations });
      return formattedError;
    }),
  };
}
