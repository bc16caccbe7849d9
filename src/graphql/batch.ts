import DataLoader from 'dataloader';
import { pageKey, type PageRequest } from './pagination.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every id in this API is a UUID; anything else names nothing (and must not reach SQL as a uuid). */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** Whether loaders coalesce the loads of one tick into one statement (always, but in benchmarks). */
export interface BatchOptions {
  batch: boolean;
}

/**
 * A loader of one row per key: `fetch` gets every key of a batch and issues one statement;
 * results come back in key order, null where no row matched. Keys are UUIDs: one that is
 * not matches nothing, without a query.
 */
export function rowLoader<K extends string, R>(
  fetch: (keys: readonly K[]) => Promise<R[]>,
  keyOf: (row: R) => K,
  options: BatchOptions,
): DataLoader<K, R | null> {
  return new DataLoader<K, R | null>(
    async (keys) => {
      const byKey = new Map<K, R>();
      const valid = keys.filter(isUuid);
      if (valid.length > 0) for (const row of await fetch(valid)) byKey.set(keyOf(row), row);
      return keys.map((key) => byKey.get(key) ?? null);
    },
    { batch: options.batch },
  );
}

/** A loader of a list per key (every table of a club, …), `[]` where nothing matched. */
export function listLoader<K extends string, R>(
  fetch: (keys: readonly K[]) => Promise<R[]>,
  keyOf: (row: R) => K,
  options: BatchOptions,
): DataLoader<K, R[]> {
  return new DataLoader<K, R[]>(
    async (keys) => {
      const valid = keys.filter(isUuid);
      const byKey = groupBy(valid.length > 0 ? await fetch(valid) : [], keyOf);
      return keys.map((key) => byKey.get(key) ?? []);
    },
    { batch: options.batch },
  );
}

export interface PageKey {
  parentId: string;
  page: PageRequest;
  /** What else narrows the page (a search, a gate); keys with the same filter and page share a statement. */
  filter?: string | null;
}

/**
 * A loader of one page per parent ("first 5 wishlist items of each streamer"). Keys that
 * ask for the same page shape share one statement (LATERAL or window), so a nested
 * connection costs one statement whatever the number of parents.
 */
export function pageLoader<R>(
  fetch: (parentIds: readonly string[], page: PageRequest, filter: string | null) => Promise<R[]>,
  parentOf: (row: R) => string,
  options: BatchOptions,
): DataLoader<PageKey, R[], string> {
  const shapeOf = ({ page, filter }: PageKey) => `${pageKey(page)}|${filter == null ? '' : JSON.stringify(filter)}`;
  return new DataLoader<PageKey, R[], string>(
    async (keys) => {
      const groups = new Map<string, { key: PageKey; parentIds: string[] }>();
      for (const key of keys) {
        if (!isUuid(key.parentId)) continue;
        const shape = shapeOf(key);
        const group = groups.get(shape) ?? { key, parentIds: [] };
        group.parentIds.push(key.parentId);
        groups.set(shape, group);
      }
      const results = new Map<string, Map<string, R[]>>();
      await Promise.all(
        [...groups].map(async ([shape, { key, parentIds }]) => {
          results.set(shape, groupBy(await fetch(parentIds, key.page, key.filter ?? null), parentOf));
        }),
      );
      return keys.map((key) => results.get(shapeOf(key))?.get(key.parentId) ?? []);
    },
    { batch: options.batch, cacheKeyFn: (key) => `${key.parentId}|${shapeOf(key)}` },
  );
}

export function groupBy<K, R>(rows: Iterable<R>, keyOf: (row: R) => K): Map<K, R[]> {
  const groups = new Map<K, R[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = groups.get(key);
    if (list) list.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}
