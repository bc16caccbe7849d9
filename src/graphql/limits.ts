import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, Kind, visit, type DocumentNode, type GraphQLSchema, type ValidationContext, type ValidationRule } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Config } from '../config.js';
import { AppError, ErrorCode } from '../errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pagination.js';

export type Limits = Config['limits'];

export const tooComplex = (message: string) =>
  new AppError(ErrorCode.QUERY_TOO_COMPLEX, message, { http: { status: 400 } });

/**
 * Depth, alias and directive limits as validation rules: they run with graphql-js's own
 * rules, before anything executes, on HTTP (Apollo) and WebSocket alike. A query over a
 * limit gets one QUERY_TOO_COMPLEX error naming the limit.
 */
export function limitRules(limits: Limits): ValidationRule[] {
  const reject = (context: ValidationContext | null, error: GraphQLError) =>
    context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } }));
  const common = { exposeLimits: true, propagateOnRejection: false, onReject: [reject] };
  return [
    maxDepthRule({ n: limits.depth, ...common }),
    maxAliasesRule({ n: limits.aliases, ...common }),
    maxDirectivesRule({ n: limits.directives, ...common }),
  ] as ValidationRule[];
}

/**
 * Each field costs 1; a field with a `first` argument (a page) multiplies the cost of what
 * is selected under it by that many items, as the server caps it (at most 100; 20 when
 * left out), so a page of pages costs what it would fetch.
 */
const pageCost: ComplexityEstimator = ({ args, field, childComplexity }) => {
  if (!field.args.some((arg) => arg.name === 'first')) return 1 + childComplexity;
  const asked = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + childComplexity * Math.max(0, Math.min(asked, MAX_PAGE_SIZE));
};

/** Per document: the variables its `first` (and @include/@skip `if`) arguments take, and the costs already computed for their values. */
const costs = new WeakMap<DocumentNode, { pageVariables: string[]; byValues: Map<string, number> }>();
const COSTS_KEPT_PER_DOCUMENT = 100;

function pageVariablesOf(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if ((node.name.value === 'first' || node.name.value === 'if') && node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
    },
  });
  return [...names];
}

/**
 * The cost of the operation with these variables; QUERY_TOO_COMPLEX above `limits.cost`.
 * The cost depends only on the document and the values of its page-size (and include/skip) variables, so it
 * is computed once per such pair (Apollo keeps one document object per query text).
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: Limits,
): number {
  let known = costs.get(document);
  if (!known) costs.set(document, (known = { pageVariables: pageVariablesOf(document), byValues: new Map() }));
  const key = `${operationName ?? ''}\u0000${JSON.stringify(known.pageVariables.map((name) => variables?.[name] ?? null))}`;
  let cost = known.byValues.get(key);
  if (cost === undefined) {
    cost = computeCost(schema, document, operationName, variables);
    if (known.byValues.size >= COSTS_KEPT_PER_DOCUMENT) known.byValues.clear();
    known.byValues.set(key, cost);
  }
  if (cost > limits.cost) throw tooComplex(`Query cost ${cost} exceeds the limit of ${limits.cost} (each field costs 1, times the items of every page above it)`);
  return cost;
}

function computeCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): number {
  try {
    return getComplexity({ schema, query: document, operationName: operationName ?? undefined, variables: variables ?? {}, estimators: [pageCost] });
  } catch {
    // Variables that do not coerce: execution refuses them before any resolver runs.
    return 0;
  }
}
