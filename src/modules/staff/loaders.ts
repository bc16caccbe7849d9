import DataLoader from 'dataloader';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { clubStaff, users } from '../../db/schema.js';
import { listLoader, type BatchOptions } from '../../graphql/batch.js';
import type { Memberships } from './memberships.js';

const queries = preparedPerDatabase((db) => ({
  /** Every membership of the subjects, removed ones too (they outweigh older tokens). */
  membershipsOfSubjects: db
    .select({ subject: users.subject, clubId: clubStaff.clubId, role: clubStaff.role, removedAt: clubStaff.removedAt })
    .from(clubStaff)
    .innerJoin(users, eq(users.id, clubStaff.userId))
    .where(sql`${users.subject} = any(${sql.placeholder('subjects')}::text[])`)
    .prepare('memberships_of_subjects'),
  staffOfClubs: db
    .select({ clubId: clubStaff.clubId, role: clubStaff.role, addedAt: clubStaff.addedAt, user: users })
    .from(clubStaff)
    .innerJoin(users, eq(users.id, clubStaff.userId))
    .where(and(anyId(clubStaff.clubId, sql.placeholder('ids')), isNull(clubStaff.removedAt)))
    .orderBy(asc(clubStaff.addedAt), asc(users.subject))
    .prepare('staff_of_clubs'),
}));

export type Membership = Awaited<ReturnType<ReturnType<typeof queries>['membershipsOfSubjects']['execute']>>[number];
export type StaffMemberRow = Awaited<ReturnType<ReturnType<typeof queries>['staffOfClubs']['execute']>>[number];

export function createStaffLoaders(db: Database, options: BatchOptions, memberships: Memberships) {
  const q = queries(db);
  return {
    /**
     * A subject's memberships at every club: at most one statement per request however
     * many clubs the request touches (subjects are not UUIDs, hence a loader of its own),
     * none while they are unchanged (see `createMemberships`).
     */
    membershipsBySubject: new DataLoader<string, Membership[]>(
      (subjects) => memberships.load(subjects, (missing) => q.membershipsOfSubjects.execute({ subjects: missing })),
      { batch: options.batch },
    ),
    staffByClub: listLoader((ids) => q.staffOfClubs.execute({ ids }), (m) => m.clubId, options),
  };
}
