import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/platform/auth.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

type Who = 'guest' | 'host of this club' | 'host of another club' | 'manager' | 'admin';
const everyone: Who[] = ['guest', 'host of this club', 'host of another club', 'manager', 'admin'];

describe('who may use the host tools', () => {
  let app: TestApp;
  let fx: Fixtures;
  let clubId: string;
  let otherClubId: string;
  let nightId: string;
  let staffUserId: string;
  let tableCounter = 0;
  let tableIds: string[];

  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
    const club = await fx.club();
    clubId = club.id;
    otherClubId = (await fx.club()).id;
    tableIds = (await fx.tables(club.id, 40)).map((t) => t.id);
    nightId = (await fx.nights(club.id, 1))[0]!.id;
    staffUserId = (await fx.user()).id;
  });
  afterAll(() => app?.stop());

  const principals: Record<Who, () => Omit<Principal, 'subject'>> = {
    guest: () => ({ roles: ['guest'], clubIds: [] }),
    'host of this club': () => ({ roles: ['host'], clubIds: [clubId] }),
    'host of another club': () => ({ roles: ['host'], clubIds: [otherClubId] }),
    manager: () => ({ roles: ['manager'], clubIds: [clubId] }),
    admin: () => ({ roles: ['admin'], clubIds: [] }),
  };
  const tokenOf = (who: Who) => app.token({ subject: `matrix-${who.replace(/ /g, '-')}`, ...principals[who]() });
  const freshTable = () => tableIds[tableCounter++]!;
  const openSession = async () => (await fx.tableSession({ nightId, tableId: freshTable(), openedBy: staffUserId })).id;
  const guestToken = async () =>
    (await graphql(app.url, `mutation($input: AddGuestInput!) { addGuest(input: $input) { token } }`, {
      token: await tokenOf('manager'),
      variables: { input: { nightId, name: 'Matrix Guest' } },
    })).data.addGuest.token as string;

  const cases: { mutation: string; allowed: Who[]; call: () => Promise<{ query: string; variables: Record<string, unknown> }> }[] = [
    {
      mutation: 'openTableSession',
      allowed: ['host of this club', 'manager', 'admin'],
      call: async () => ({ query: `mutation($input: OpenTableSessionInput!) { openTableSession(input: $input) { id } }`, variables: { input: { nightId, tableId: freshTable() } } }),
    },
    {
      mutation: 'closeTableSession',
      allowed: ['host of this club', 'manager', 'admin'],
      call: async () => ({ query: `mutation($id: ID!) { closeTableSession(id: $id) { id } }`, variables: { id: await openSession() } }),
    },
    {
      mutation: 'recordDeposit',
      allowed: ['host of this club', 'manager', 'admin'],
      call: async () => ({
        query: `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { id } }`,
        variables: { input: { sessionId: await openSession(), amountMinor: 1000, currency: 'EUR', idempotencyKey: `k${tableCounter}` } },
      }),
    },
    {
      mutation: 'addGuest',
      allowed: ['manager', 'admin'],
      call: async () => ({ query: `mutation($input: AddGuestInput!) { addGuest(input: $input) { id } }`, variables: { input: { nightId, name: 'Someone' } } }),
    },
    {
      mutation: 'checkIn',
      allowed: ['host of this club', 'manager', 'admin'],
      call: async () => ({ query: `mutation($input: CheckInInput!) { checkIn(input: $input) { id } }`, variables: { input: { token: await guestToken(), gate: 'main' } } }),
    },
    {
      mutation: 'checkInBooking',
      allowed: ['host of this club', 'manager', 'admin'],
      call: async () => {
        const guest = await fx.user();
        const booking = await fx.booking({ nightId, tableId: freshTable(), userId: guest.id, status: 'confirmed' });
        return { query: `mutation($input: CheckInBookingInput!) { checkInBooking(input: $input) { id } }`, variables: { input: { bookingId: booking.id, gate: 'main' } } };
      },
    },
    {
      mutation: 'createAgent',
      allowed: ['manager', 'admin'],
      call: async () => ({ query: `mutation($userId: ID!, $clubId: ID) { createAgent(userId: $userId, clubId: $clubId) { id } }`, variables: { userId: (await fx.user()).id, clubId } }),
    },
  ];

  for (const { mutation, allowed, call } of cases) {
    it(`${mutation}: ${allowed.join(', ')} may; everyone else gets FORBIDDEN`, async () => {
      const outcomes: Record<string, string> = {};
      for (const who of everyone) {
        const { query, variables } = await call();
        const response = await graphql(app.url, query, { token: await tokenOf(who), variables });
        outcomes[who] = response.errors ? codes(response).join(',') : 'allowed';
      }
      expect(outcomes).toEqual(Object.fromEntries(everyone.map((who) => [who, allowed.includes(who) ? 'allowed' : 'FORBIDDEN'])));
    });
  }
});
