import type { GatewayInterface } from '@apollo/server-gateway-interface';
import { GraphQLError, printSchema, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

const OPERATIONS_KEPT_PER_DOCUMENT = 8;

/** Compiles an operation of a document once (graphql-jit) and returns it on later calls. */
export type OperationCompiler = (document: DocumentNode, operationName: string | null | undefined) => CompiledQuery | ExecutionResult;

/**
 * graphql-jit turns each document's operation into a function run per request, which
 * removes most of graphql-js's per-field work. Kept per document node: Apollo keeps parsed
 * documents in its document cache, and known operations (known-operations.ts) keep theirs,
 * so a document's identity is stable.
 */
export function operationCompiler(schema: GraphQLSchema): OperationCompiler {
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | ExecutionResult>>();
  return (document, operationName) => {
    let byOperation = compiled.get(document);
    if (!byOperation) {
      byOperation = new Map();
      compiled.set(document, byOperation);
    }
    const key = operationName ?? '';
    let query = byOperation.get(key);
    if (!query) {
      query = compileQuery(schema, document, operationName ?? undefined);
      if (byOperation.size >= OPERATIONS_KEPT_PER_DOCUMENT) byOperation.clear();
      byOperation.set(key, query);
    }
    return query;
  };
}

/** Runs a compiled operation, its errors given the `extensions` Apollo and `formatError` expect. */
export async function runCompiled(query: CompiledQuery | ExecutionResult, context: unknown, variables: Record<string, unknown> | null | undefined): Promise<ExecutionResult> {
  if (!isCompiledQuery(query)) return query;
  const result = await query.query(undefined, context, variables ?? {});
  return result.errors ? { ...result, errors: result.errors.map(withExtensions) } : result;
}

/**
 * Executes Apollo's operations with graphql-jit instead of graphql-js. Apollo has one
 * supported place to swap its executor — the gateway interface — so this presents itself
 * as a gateway serving our own schema; Apollo still parses, validates and caches
 * documents, runs plugins and formats errors.
 */
export function jitExecutor(schema: GraphQLSchema, compile: OperationCompiler): GatewayInterface {
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => {};
    },
    async load() {
      return {
        executor: async (request) => runCompiled(compile(request.document, request.operationName), request.context, request.request.variables),
      };
    },
    async stop() {},
  };
}

/**
 * graphql-jit leaves `extensions` unset on the errors it locates; Apollo reads
 * `extensions.code` before our `formatError` sees them and fails on undefined, answering
 * an opaque "Internal server error" for errors we mean to explain.
 */
function withExtensions(error: GraphQLError): GraphQLError {
  if (error.extensions) return error;
  const copy = new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: {} });
  // graphql-jit locates its errors without nodes: keep the locations it gave.
  if (error.locations?.length && !copy.locations) Object.assign(copy, { locations: error.locations });
  return copy;
}
