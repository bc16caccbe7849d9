import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agents } from '../../src/db/schema.js';
import { createAgent, randomAgentCode } from '../../src/modules/checkin/service.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

describe('promoter codes', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('draws 8 characters from an alphabet without look-alikes', () => {
    const codes = Array.from({ length: 500 }, randomAgentCode);
    for (const code of codes) expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/);
    expect(new Set(codes).size).toBe(500);
  });

  it('draws again when the database says a code is taken, and never stores it twice', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [first, second] = [await fx.user(), await fx.user()];
    const scope = app.scopeFor({ kind: 'user', principal: { subject: 'code-manager', roles: ['manager'], clubIds: [club.id] } });
    const taken = await createAgent(scope, { userId: first.id }, () => 'TAKEN234');
    expect(taken.code).toBe('TAKEN234');
    const draws = ['TAKEN234', 'TAKEN234', 'FRESH567'];
    const drawn: string[] = [];
    const agent = await createAgent(scope, { userId: second.id }, () => {
      const code = draws.shift()!;
      drawn.push(code);
      return code;
    });
    expect(drawn).toEqual(['TAKEN234', 'TAKEN234', 'FRESH567']);
    expect(agent.code).toBe('FRESH567');
    expect(await app.db.select().from(agents).where(eq(agents.code, 'TAKEN234'))).toHaveLength(1);
  });

  it('gives up with an error after five collisions in a row', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const scope = app.scopeFor({ kind: 'user', principal: { subject: 'unlucky-manager', roles: ['manager'], clubIds: [club.id] } });
    await createAgent(scope, { userId: (await fx.user()).id }, () => 'ALWAYS23');
    let attempts = 0;
    await expect(
      createAgent(scope, { userId: (await fx.user()).id }, () => {
        attempts += 1;
        return 'ALWAYS23';
      }),
    ).rejects.toThrow();
    expect(attempts).toBe(5);
  });
});
