import type { ApolloServerPlugin, HTTPGraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { GraphQLError, Kind, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import Negotiator from 'negotiator';
import { asGraphQLError, ErrorCode } from '../errors.js';
import type { Context } from '../graphql/context.js';
import { runCompiled, type OperationCompiler } from './jit-executor.js';
import type { OperationHooks } from './operation-hooks.js';
import { isPlainObject, type GraphQLBody } from './response-cache.js';

const KNOWN_KEPT = 1_000;
const ACCEPT_HEADERS_KEPT = 64;
const JSON_TYPES = [
  'application/json; charset=utf-8',
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

interface Known {
  document: DocumentNode;
  /** As the request named it: what the document is compiled and costed for. */
  operationName: string | null;
  /** The operation's own name: its metric label. */
  resolvedName: string | null;
  kind: 'query' | 'mutation';
}

/** A request the known-operations path can answer: run it with `run`. */
export interface KnownRequest {
  known: Known;
  variables: Record<string, unknown> | undefined;
  contentType: string;
}

export interface KnownOperationsOptions {
  compile: OperationCompiler;
  hooks: OperationHooks;
  /** Apollo's `formatError`, as configured in apollo.ts. */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
}

/**
 * Runs a POSTed operation whose document Apollo has already parsed, validated and
 * resolved — the same text with the same operation name — without Apollo's per-request
 * pipeline: no hashing, document-cache lookup, plugin dispatch or response object
 * cloning. Everything the pipeline does around execution is done here the same way,
 * through the same code: admission (cost, rate budget) and accounting (operation label,
 * outcome, 503, `extensions.sql`) in operation-hooks.ts, execution by the same compiled
 * graphql-jit function, errors through the same `formatError` after Apollo's own
 * normalisation (a missing code becomes INTERNAL_SERVER_ERROR, variable coercion errors
 * BAD_USER_INPUT with 400 when nothing ran, `extensions.http` applied to the response).
 * Validation depends only on the document and the schema, so a document valid once is
 * valid again. Anything else — a new document, GET, persisted queries, `extensions`, an
 * unusual body or `accept` header — is left to Apollo, which answers or refuses it.
 */
export function knownOperations({ compile, hooks, formatError }: KnownOperationsOptions) {
  const known = new Map<string, Known>();
  const contentTypes = new Map<string, string | null>();

  function contentTypeFor(accept: string | undefined): string | null {
    if (accept === undefined) return JSON_TYPES[0]!;
    let type = contentTypes.get(accept);
    if (type === undefined) {
      type = new Negotiator({ headers: { accept } }).mediaType(JSON_TYPES) ?? null;
      if (contentTypes.size >= ACCEPT_HEADERS_KEPT) contentTypes.clear();
      contentTypes.set(accept, type);
    }
    return type;
  }

  function errorResponse(errors: readonly GraphQLError[], context: Context, contentType: string, defaultStatus: number | undefined, data?: unknown): HTTPGraphQLResponse {
    hooks.encountered(errors);
    const http = { status: undefined as number | undefined, headers: new Map<string, string>() };
    const formatted = errors.map((error) => {
      const extensions: Record<string, unknown> = { ...error.extensions, code: error.extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR };
      const head = extensions.http as { status?: unknown; headers?: unknown } | undefined;
      if (head && typeof head === 'object' && (head.status === undefined || typeof head.status === 'number') && (head.headers === undefined || head.headers instanceof Map)) {
        if (typeof head.status === 'number') http.status = head.status;
        if (head.headers instanceof Map) for (const [name, value] of head.headers as Map<string, string>) http.headers.set(name, value);
        delete extensions.http;
      }
      return formatError({ ...error.toJSON(), extensions }, error);
    });
    http.status ??= defaultStatus;
    return respond({ errors: formatted, ...(data === undefined ? {} : { data }) }, http, context, contentType);
  }

  function respond(result: { data?: unknown; errors?: GraphQLFormattedError[] }, http: { status?: number; headers: Map<string, string> }, context: Context, contentType: string): HTTPGraphQLResponse {
    const outgoing = { result: { ...result } as { data?: unknown; errors?: GraphQLFormattedError[]; extensions?: Record<string, unknown> }, http };
    hooks.finish(outgoing, context);
    const headers = new HeaderMap([['content-type', contentType], ...http.headers]);
    const { errors, data, extensions } = outgoing.result;
    return { status: http.status, headers, body: { kind: 'complete', string: `${JSON.stringify({ errors, data, extensions })}\n` } };
  }

  return {
    /** Remembers each POSTed document Apollo resolved an operation of. */
    plugin: {
      async requestDidStart() {
        return {
          async didResolveOperation({ request, document, operation }) {
            if (request.http?.method !== 'POST' || typeof request.query !== 'string' || request.extensions !== undefined) return;
            if (operation?.operation !== 'query' && operation?.operation !== 'mutation') return;
            const key = keyOf(request.query, request.operationName);
            if (known.has(key)) return;
            if (known.size >= KNOWN_KEPT) known.delete(known.keys().next().value!);
            known.set(key, { document, operationName: request.operationName ?? null, resolvedName: operation.name?.value ?? null, kind: operation.operation });
          },
        };
      },
    } satisfies ApolloServerPlugin<Context>,

    /** The known operation this request asks for, if this path can answer it. */
    find(body: unknown, headers: { contentType: string | undefined; accept: string | undefined }): KnownRequest | undefined {
      if (!isJson(headers.contentType) || !isPlainObject(body)) return undefined;
      const { query, operationName, variables, extensions } = body as GraphQLBody;
      if (typeof query !== 'string' || extensions !== undefined) return undefined;
      if (operationName != null && typeof operationName !== 'string') return undefined;
      if (variables != null && !isPlainObject(variables)) return undefined;
      const found = known.get(keyOf(query, operationName ?? undefined));
      if (!found) return undefined;
      const contentType = contentTypeFor(headers.accept);
      if (contentType === null) return undefined;
      return { known: found, variables: (variables ?? undefined) as Record<string, unknown> | undefined, contentType };
    },

    /** Answers a known operation as Apollo's pipeline would. */
    async run({ known: operation, variables, contentType }: KnownRequest, context: Context): Promise<HTTPGraphQLResponse> {
      hooks.named(operation.resolvedName, operation.kind);
      try {
        await hooks.admit(operation.document, operation.operationName, variables, operation.kind, context);
      } catch (error) {
        return errorResponse([asGraphQLError(error)], context, contentType, 500);
      }
      let result;
      try {
        result = await runCompiled(compile(operation.document, operation.operationName), context, variables);
      } catch (error) {
        return errorResponse([asGraphQLError(error)], context, contentType, 500);
      }
      if (!result.errors?.length) return respond({ data: result.data }, { headers: new Map() }, context, contentType);
      const errors = result.errors.map((e) => (isVariableCoercionError(e) && e.extensions?.code == null ? badUserInput(e) : e));
      // Variables that could not be coerced: nothing ran.
      return errorResponse(errors, context, contentType, result.data === undefined ? 400 : undefined, result.data);
    },
  };
}

export type KnownOperations = ReturnType<typeof knownOperations>;

function keyOf(query: string, operationName: string | undefined | null): string {
  return `${operationName ?? ''}\u0000${query}`;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return essence === 'application/json';
}

/** graphql-js's wording for a variable whose value could not be coerced (as Apollo tests it). */
function isVariableCoercionError(error: GraphQLError): boolean {
  const node = error.nodes?.length === 1 ? error.nodes[0] : undefined;
  if (node?.kind !== Kind.VARIABLE_DEFINITION) return false;
  const prefix = `Variable "$${node.variable.name.value}" `;
  return ['has invalid value', 'got invalid value ', 'of required type ', 'of non-null type '].some((rest) => error.message.startsWith(prefix + rest));
}

function badUserInput(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    originalError: error.originalError ?? error,
    extensions: { ...error.extensions, code: ErrorCode.BAD_USER_INPUT },
  });
}
