import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { users, type User } from '../../db/schema.js';
import { requirePrincipal, type Role, type Viewer } from '../../platform/auth.js';
import type { Scope } from '../scope.js';

/** A user as the API shows it: the row plus the roles of the token in use. */
export type UserModel = User & { roles: Role[] };

const queries = preparedPerDatabase((db) => ({
  userBySubject: db.select().from(users).where(eq(users.subject, sql.placeholder('subject'))).limit(1).prepare('user_by_subject'),
}));

/**
 * The user row of a token's subject, created on first use. One statement when the user
 * exists; a concurrent first use by the same subject is settled by the unique constraint.
 */
export async function ensureUser(db: Database, subject: string): Promise<User> {
  const { userBySubject } = queries(db);
  const [existing] = await userBySubject.execute({ subject });
  if (existing) return existing;
  const [created] = await db.insert(users).values({ subject }).onConflictDoNothing().returning();
  if (created) return created;
  const [raced] = await userBySubject.execute({ subject });
  return raced!;
}

/**
 * The signed-in caller with their token's roles; null when no token was sent, and
 * UNAUTHENTICATED for a token that was refused (invalid or expired).
 */
export async function me(scope: Scope): Promise<UserModel | null> {
  if (scope.viewer.kind === 'anonymous' && scope.viewer.tokenProblem === undefined) return null;
  const principal = requirePrincipal(scope.viewer);
  return { ...(await scope.currentUser()), roles: principal.roles };
}

/** Memoizes `ensureUser` for one request. */
export function currentUserOnce(db: Database, viewer: Viewer): () => Promise<User> {
  let pending: Promise<User> | undefined;
  return () => (pending ??= ensureUser(db, requirePrincipal(viewer).subject));
}

/** Another user as the API shows them: no roles (those belong to a token, not a row). */
export async function userById(scope: Scope, id: string): Promise<UserModel | null> {
  const user = await scope.loaders.userById.load(id);
  return user ? { ...user, roles: [] } : null;
}
