import { Kind, parse, type DocumentNode, type FieldNode } from 'graphql';
import { isUuid } from '../graphql/batch.js';

/** A POST body as clients send it. */
export interface GraphQLBody {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
}

interface Plan {
  /** The night the operation reads, from its literal or variable `id`. */
  nightIdOf(variables: Record<string, unknown>): unknown;
}

interface Entry {
  nightId: string;
  version: number;
  /** The response's `data`, serialized once. */
  data: string;
}

const NOT_CACHEABLE = Symbol('not cacheable');
const PLANS_KEPT = 1_000;
const ENTRIES_KEPT = 20_000;
const NIGHT_FIELDS = new Set(['id', '__typename', 'availability']);
/** Larger documents or variables are not cached: the keys would cost more than they save. */
const MAX_QUERY_LENGTH = 4_096;
const MAX_VARIABLES_LENGTH = 512;

/**
 * Serves repeated availability reads — `night(id) { id availability { … } }` and nothing
 * else — from bytes cached per (document, variables, snapshot version), without running
 * GraphQL. An entry is used only while its version is the one in the shared snapshot
 * store, which every writer updates before its mutation answers: a reader never gets a
 * version older than a change it saw committed. Entries are made from real executions
 * that returned no errors, so the first request of each document is validated as usual.
 */
export function createResponseCache(storedVersion: (nightId: string) => Promise<number | null>, onMiss: () => void = () => {}) {
  const plans = new Map<string, Plan | typeof NOT_CACHEABLE>();
  const entries = new Map<string, Entry>();

  function planFor(body: GraphQLBody): { key: string; plan: Plan; variables: Record<string, unknown> } | null {
    // Only the plain shape of a request; anything else (extensions, persisted queries,
    // odd types) goes to Apollo, which knows how to answer or refuse it.
    if (typeof body.query !== 'string' || body.query.length > MAX_QUERY_LENGTH || body.extensions !== undefined) return null;
    if (body.operationName != null && typeof body.operationName !== 'string') return null;
    if (body.variables != null && !isPlainObject(body.variables)) return null;
    const operationName = body.operationName ?? '';
    const variables = (body.variables ?? {}) as Record<string, unknown>;
    const variablesJson = JSON.stringify(variables);
    if (variablesJson.length > MAX_VARIABLES_LENGTH) return null;
    const documentKey = `${operationName}\u0000${body.query}`;
    let plan = plans.get(documentKey);
    if (plan === undefined) {
      plan = analyse(body.query) ?? NOT_CACHEABLE;
      if (plans.size >= PLANS_KEPT) plans.delete(plans.keys().next().value!);
      plans.set(documentKey, plan);
    }
    if (plan === NOT_CACHEABLE) return null;
    return { key: `${documentKey}\u0000${variablesJson}`, plan, variables };
  }

  return {
    /** The cached response body for this request, if there is one for the current version. */
    async lookup(body: GraphQLBody): Promise<string | null> {
      const planned = planFor(body);
      if (!planned) return null;
      // A cacheable request answered by GraphQL: none kept yet, or kept for an older version.
      const entry = entries.get(planned.key);
      if (!entry) {
        onMiss();
        return null;
      }
      const current = await storedVersion(entry.nightId);
      if (current === entry.version) return entry.data;
      onMiss();
      return null;
    },

    /**
     * Keeps a response produced by GraphQL for this request, tagged with the snapshot
     * version its resolvers read (`versions`: night id → version).
     */
    remember(body: GraphQLBody, versions: ReadonlyMap<string, number>, responseBody: string): void {
      const planned = planFor(body);
      if (!planned) return;
      const nightId = planned.plan.nightIdOf(planned.variables);
      if (typeof nightId !== 'string') return;
      const version = versions.get(nightId);
      if (version === undefined || versions.size !== 1) return;
      let parsed: { data?: unknown; errors?: unknown };
      try {
        parsed = JSON.parse(responseBody) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.errors !== undefined || parsed.data === undefined) return;
      entries.delete(planned.key);
      if (entries.size >= ENTRIES_KEPT) entries.delete(entries.keys().next().value!);
      entries.set(planned.key, { nightId, version, data: JSON.stringify(parsed.data) });
    },
  };
}

export type ResponseCache = ReturnType<typeof createResponseCache>;

/**
 * Accepts exactly one query operation whose only root field is `night(id:)` selecting
 * only `id`, `__typename` and `availability` (anything below availability): all of it
 * comes from the night's snapshot. No fragments definitions, no directives on those levels.
 */
function analyse(query: string): Plan | null {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return null;
  }
  const [operation, ...others] = document.definitions;
  if (others.length > 0 || operation?.kind !== Kind.OPERATION_DEFINITION || operation.operation !== 'query') return null;
  if (operation.directives?.length) return null;
  const [root, ...moreRoots] = operation.selectionSet.selections;
  if (moreRoots.length > 0 || root?.kind !== Kind.FIELD || root.name.value !== 'night' || root.directives?.length) return null;
  const [idArgument, ...moreArguments] = root.arguments ?? [];
  if (moreArguments.length > 0 || idArgument?.name.value !== 'id') return null;
  const below = root.selectionSet?.selections ?? [];
  const onlySnapshotFields = below.every(
    (s): s is FieldNode => s.kind === Kind.FIELD && NIGHT_FIELDS.has(s.name.value) && !s.directives?.length,
  );
  if (!onlySnapshotFields) return null;
  const value = idArgument.value;
  if (value.kind === Kind.VARIABLE) {
    const name = value.name.value;
    return { nightIdOf: (variables) => (typeof variables[name] === 'string' && isUuid(variables[name]) ? variables[name] : undefined) };
  }
  if (value.kind === Kind.STRING && isUuid(value.value)) return { nightIdOf: () => value.value };
  return null;
}

/** A JSON object (not an array, not null): the shape of a GraphQL request body. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
