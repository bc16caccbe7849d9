/**
 * Reads a claim at a dot path, the way identity providers nest them: `realm_access.roles`
 * (Keycloak), `https://nightgraph/claims.roles` (Auth0's namespaced claims). A key may
 * itself contain dots (`https://club.example/claims`), so at each level the longest
 * leading run of segments that names a key wins.
 */
export function claimAt(payload: unknown, path: string): unknown {
  return walk(payload, path.split('.'));
}

function walk(value: unknown, segments: string[]): unknown {
  if (segments.length === 0) return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  for (let take = segments.length; take > 0; take--) {
    const key = segments.slice(0, take).join('.');
    if (Object.hasOwn(record, key)) {
      const found = walk(record[key], segments.slice(take));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Puts `value` at `path` in `payload`, one level per segment (what `claimAt` reads back). */
export function putClaim(payload: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  const last = segments.pop()!;
  let level = payload;
  for (const segment of segments) {
    const next = level[segment];
    level = (level[segment] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
  }
  level[last] = value;
}

/**
 * A claim that lists names: an array of strings, or one string of names separated by
 * spaces or commas (how some providers flatten groups and scopes). `undefined` when the
 * claim is absent, `null` when it is there but not a list of names.
 */
export function namesClaim(value: unknown): string[] | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  return null;
}
