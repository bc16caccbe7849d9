import { readFileSync } from 'node:fs';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLScalarType, type GraphQLSchema } from 'graphql';
import { DateTimeResolver, SafeIntResolver } from 'graphql-scalars';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import { bookingResolvers } from '../modules/bookings/resolvers.js';
import { checkinResolvers } from '../modules/checkin/resolvers.js';
import { clubResolvers } from '../modules/clubs/resolvers.js';
import { reportResolvers } from '../modules/reports/resolvers.js';
import { sessionResolvers } from '../modules/sessions/resolvers.js';
import { staffResolvers } from '../modules/staff/resolvers.js';
import { notificationResolvers } from '../modules/notifications/resolvers.js';
import { telegramResolvers } from '../modules/telegram/resolvers.js';
import { streamerResolvers } from '../modules/streamers/resolvers.js';
import { userResolvers } from '../modules/users/resolvers.js';
import { votingResolvers } from '../modules/voting/resolvers.js';
import { musicResolvers } from '../modules/music/resolvers.js';

export const typeDefs = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');

/**
 * graphql-scalars' DateTime, answering the ISO string itself rather than a `Date`: the
 * JSON is the same, but a `Date` in a result makes every serialization call its `toJSON`
 * (a night's 200 tables carry 150 of them).
 */
const DateTime = new GraphQLScalarType({
  ...DateTimeResolver.toConfig(),
  serialize: (value) => {
    const serialized: unknown = DateTimeResolver.serialize(value);
    return serialized instanceof Date ? serialized.toISOString() : serialized;
  },
});

const moduleResolvers: Resolvers[] = [
  { DateTime, SafeInt: SafeIntResolver },
  userResolvers,
  clubResolvers,
  staffResolvers,
  bookingResolvers,
  sessionResolvers,
  checkinResolvers,
  streamerResolvers,
  votingResolvers,
  musicResolvers,
  notificationResolvers,
  telegramResolvers,
  reportResolvers,
];

/** The executable schema: schema.graphql plus every module's resolvers. */
export function buildSchema(): GraphQLSchema {
  return makeExecutableSchema({ typeDefs, resolvers: moduleResolvers as never });
}
