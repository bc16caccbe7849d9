import { readFileSync } from 'node:fs';

/** Who may see a field, as the "Who may see what" table of docs/api.md names them. */
export type Audience = 'everyone' | 'signed in' | 'self' | 'listeners' | 'staff' | 'managers' | 'admins' | 'as parent';
const AUDIENCES: readonly Audience[] = ['everyone', 'signed in', 'self', 'listeners', 'staff', 'managers', 'admins', 'as parent'];

/** type → field → audiences; a type whose row says `all` fields is under '*'. */
export type Policy = Map<string, Map<string, Audience[]>>;

/**
 * Reads the policy table from the `## Who may see what` section of a Markdown file (the
 * API guide, docs/api.md), up to the next level-2 heading: rows of `| types | fields | who |`,
 * each type and field in backticks, `all` for every field of an `as parent` type. Throws on
 * a missing section or a cell it cannot read, so the table stays machine-readable.
 */
export function readPolicy(markdownPath: string): Policy {
  const text = readFileSync(markdownPath, 'utf8');
  const start = text.indexOf('## Who may see what');
  if (start < 0) throw new Error(`${markdownPath} has no "## Who may see what" section`);
  const end = text.indexOf('\n## ', start + 1);
  const lines = text.slice(start, end < 0 ? undefined : end).split('\n');
  const rows = lines.filter((line) => /^\| `/.test(line));
  const policy: Policy = new Map();
  for (const row of rows) {
    const [typesCell, fieldsCell, whoCell] = row.split('|').slice(1, 4).map((c) => c.trim());
    const ticks = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const audiences = whoCell!.split(',').map((w) => w.trim()) as Audience[];
    for (const audience of audiences) if (!AUDIENCES.includes(audience)) throw new Error(`policy row "${row}": unknown audience "${audience}"`);
    const fields = fieldsCell === 'all' ? ['*'] : ticks(fieldsCell!);
    if (fields.length === 0) throw new Error(`policy row "${row}" names no fields`);
    for (const type of ticks(typesCell!)) {
      const byField = policy.get(type) ?? new Map<string, Audience[]>();
      for (const field of fields) {
        if (byField.has(field)) throw new Error(`policy names ${type}.${field} twice`);
        byField.set(field, audiences);
      }
      policy.set(type, byField);
    }
  }
  return policy;
}

/** The audiences of `type.field`, or undefined when the table does not cover it. */
export function audiencesOf(policy: Policy, type: string, field: string): Audience[] | undefined {
  const byField = policy.get(type);
  return byField?.get(field) ?? byField?.get('*');
}

/** What the viewer is, for the audiences' sake. */
export interface ViewerFacts {
  role: string;
  signedIn: boolean;
  userId: string | null;
  admin: boolean;
  staffClubs: ReadonlySet<string>;
  managerClubs: ReadonlySet<string>;
}

/** What an object is, for the audiences' sake: its clubs and its owner (see the table's legend in docs/api.md). */
export interface ObjectFacts {
  clubs: readonly string[];
  owner: string | null;
  /** A song on offer in its club's active vote session (for `listeners`). */
  onOffer?: boolean;
}

export function allows(audiences: readonly Audience[], viewer: ViewerFacts, object: ObjectFacts): boolean {
  return audiences.some((audience) => {
    switch (audience) {
      case 'everyone':
      case 'as parent':
        return true;
      case 'signed in':
        return viewer.signedIn;
      case 'self':
        return viewer.userId !== null && viewer.userId === object.owner;
      case 'listeners':
        return object.onOffer === true;
      case 'staff':
        return object.clubs.some((club) => viewer.staffClubs.has(club));
      case 'managers':
        return object.clubs.some((club) => viewer.managerClubs.has(club));
      case 'admins':
        return viewer.admin;
    }
  });
}
