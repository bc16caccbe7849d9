import { Kind, parse, type DocumentNode, type FieldNode } from 'graphql';
import { isUuid } from '../graphql/batch.js';

/** A POST body as clients send it. */
export interface GraphQLBody {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
}

/** What a cacheable operation reads of its night: its availability snapshot, or its report. */
type Reads = 'availability' | 'report';

interface Plan {
  kind: Reads;
  /** The night the operation reads, from its literal or variable `id`. */
  nightIdOf(variables: Record<string, unknown>): unknown;
}

interface Entry {
  kind: Reads;
  nightId: string;
  /** The night's club: whose managers may read a cached report. */
  clubId: string;
  /** What the answer was computed from: the snapshot version, or the report's key. */
  version: string;
  /** The response's `data`, serialized once. */
  data: string;
}

/** What a cached answer is checked against before it is served, each read O(1) from the shared store. */
export interface ResponseCacheSources {
  /** The version of the night's availability snapshot in the shared store; null if none. */
  availabilityVersion(nightId: string): Promise<number | null>;
  /** The key the night's live report is valid under now (NightReports.keyOf); null if unknown. */
  reportKey(night: { id: string; clubId: string }): Promise<string | null>;
  /** A final report's key: valid forever. */
  finalReportKey: string;
}

/** What the resolvers of an answer read, as the GraphQL context records it. */
export interface ReadVersions {
  availabilityVersions: ReadonlyMap<string, number>;
  reportKeys: ReadonlyMap<string, { clubId: string; key: string }>;
}

/** A cacheable request: its key, its plan, its variables. */
export interface Planned {
  key: string;
  plan: Plan;
  variables: Record<string, unknown>;
}

const NOT_CACHEABLE = Symbol('not cacheable');
const PLANS_KEPT = 1_000;
const ENTRIES_KEPT = 20_000;
/** The fields a cacheable operation may select on its night, by what they are answered from. */
const NIGHT_FIELDS: Record<Reads, ReadonlySet<string>> = {
  availability: new Set(['id', '__typename', 'availability']),
  report: new Set(['id', '__typename', 'report']),
};
/** Larger documents or variables are not cached: the keys would cost more than they save. */
const MAX_QUERY_LENGTH = 4_096;
const MAX_VARIABLES_LENGTH = 512;

/**
 * Serves repeated reads of one night's availability — `night(id) { id availability { … } }`
 * and nothing else — or of its report — `night(id) { id report { … } }` — from bytes
 * cached per (document, variables), without running GraphQL. An entry is used only while
 * what it was computed from is current: the snapshot version in the shared store, which
 * every writer updates before its mutation answers, or the report's key (NightReports.keyOf),
 * which every writer of the figures raises before it answers. A reader never gets an
 * answer older than a change it saw committed. A report is served only to a caller the
 * reports service lets read it (its club's managers), checked on every request as
 * GraphQL would; anyone else goes to GraphQL, which refuses them. Entries are made from
 * real executions that returned no errors, so the first request of each document is
 * validated as usual.
 */
export function createResponseCache(sources: ResponseCacheSources, onMiss: () => void = () => {}) {
  const plans = new Map<string, Plan | typeof NOT_CACHEABLE>();
  const entries = new Map<string, Entry>();

  function planFor(body: GraphQLBody): Planned | null {
    // Only the plain shape of a request; anything else (extensions, persisted queries,
    // odd types) goes to Apollo, which knows how to answer or refuse it.
    if (typeof body.query !== 'string' || body.query.length > MAX_QUERY_LENGTH || body.extensions !== undefined) return null;
    if (body.operationName != null && typeof body.operationName !== 'string') return null;
    if (body.variables != null && !isPlainObject(body.variables)) return null;
    const operationName = body.operationName ?? '';
    const documentKey = `${operationName}\u0000${body.query}`;
    let plan = plans.get(documentKey);
    if (plan === undefined) {
      plan = analyse(body.query) ?? NOT_CACHEABLE;
      if (plans.size >= PLANS_KEPT) plans.delete(plans.keys().next().value!);
      plans.set(documentKey, plan);
    }
    // Most documents are not cacheable: their variables need not be serialized.
    if (plan === NOT_CACHEABLE) return null;
    const variables = (body.variables ?? {}) as Record<string, unknown>;
    const variablesJson = JSON.stringify(variables);
    if (variablesJson.length > MAX_VARIABLES_LENGTH) return null;
    return { key: `${documentKey}\u0000${variablesJson}`, plan, variables };
  }

  async function isCurrent(entry: Entry, mayReadReports: (clubId: string) => Promise<boolean>): Promise<boolean> {
    if (entry.kind === 'availability') return String(await sources.availabilityVersion(entry.nightId)) === entry.version;
    const night = { id: entry.nightId, clubId: entry.clubId };
    const [allowed, key] = await Promise.all([
      mayReadReports(entry.clubId),
      entry.version === sources.finalReportKey ? entry.version : sources.reportKey(night),
    ]);
    return allowed && key === entry.version;
  }

  return {
    /** What this request would be cached under; null if it is not cacheable. */
    plan: planFor,

    /**
     * The cached response body for this request, if there is one that is current and the
     * caller may read: `mayReadReports` is the reports service's rule for this caller.
     */
    async lookup(planned: Planned, mayReadReports: (clubId: string) => Promise<boolean>): Promise<string | null> {
      // A cacheable request answered by GraphQL: none kept yet, kept for an older version, or not for this caller.
      const entry = entries.get(planned.key);
      // A check that fails (the database busy, say) is a miss: GraphQL answers, or says what went wrong.
      if (entry && (await isCurrent(entry, mayReadReports).catch(() => false))) return entry.data;
      onMiss();
      return null;
    },

    /** Keeps a response produced by GraphQL for this request, tagged with what its resolvers read. */
    remember(planned: Planned, read: ReadVersions, responseBody: string): void {
      const nightId = planned.plan.nightIdOf(planned.variables);
      if (typeof nightId !== 'string') return;
      let tag: { clubId: string; version: string } | undefined;
      if (planned.plan.kind === 'availability') {
        const version = read.availabilityVersions.get(nightId);
        if (version !== undefined && read.availabilityVersions.size === 1 && read.reportKeys.size === 0) tag = { clubId: '', version: String(version) };
      } else {
        const report = read.reportKeys.get(nightId);
        if (report && read.reportKeys.size === 1 && read.availabilityVersions.size === 0) tag = { clubId: report.clubId, version: report.key };
      }
      if (!tag) return;
      let parsed: { data?: unknown; errors?: unknown };
      try {
        parsed = JSON.parse(responseBody) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.errors !== undefined || parsed.data === undefined) return;
      entries.delete(planned.key);
      if (entries.size >= ENTRIES_KEPT) entries.delete(entries.keys().next().value!);
      entries.set(planned.key, { kind: planned.plan.kind, nightId, ...tag, data: JSON.stringify(parsed.data) });
    },
  };
}

export type ResponseCache = ReturnType<typeof createResponseCache>;

/**
 * Accepts exactly one query operation whose only root field is `night(id:)` selecting
 * `id` and `__typename` and either `availability` or `report` (anything below those): all
 * of it comes from the night's snapshot, or from its report. No fragment definitions, no
 * directives on those levels.
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
  const plainFields = below.every((s): s is FieldNode => s.kind === Kind.FIELD && !s.directives?.length);
  if (!plainFields) return null;
  const names = (below as FieldNode[]).map((s) => s.name.value);
  const kind = (['availability', 'report'] as const).find((k) => names.includes(k) && names.every((n) => NIGHT_FIELDS[k].has(n)));
  if (!kind) return null;
  const value = idArgument.value;
  if (value.kind === Kind.VARIABLE) {
    const name = value.name.value;
    return { kind, nightIdOf: (variables) => (typeof variables[name] === 'string' && isUuid(variables[name]) ? variables[name] : undefined) };
  }
  if (value.kind === Kind.STRING && isUuid(value.value)) return { kind, nightIdOf: () => value.value };
  return null;
}

/** A JSON object (not an array, not null): the shape of a GraphQL request body. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
