import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHall } from '../../src/modules/clubs/hall.js';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;

describe('the floor plan as SVG', () => {
  let app: TestApp;
  let fx: Fixtures;
  let base: string;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
    base = app.url.replace(/\/graphql$/, '');
  });
  afterAll(() => app?.stop());

  it('draws every table at its position, coloured by state, with an ETag that changes with the version', async () => {
    const club = await fx.club({ name: 'Neon & Co' });
    const tables = await fx.tables(club.id, 3);
    const [night] = await fx.nights(club.id, 1);
    const url = `${base}/clubs/${club.slug}/nights/${night!.id}/hall.svg`;

    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toContain('image/svg+xml');
    expect(first.headers.get('etag')).toBe('"0"');
    const svg = await first.text();
    expect(svg).toContain('Neon &#38; Co');
    expect(svg.match(/class="table"/g)).toHaveLength(3);
    expect(svg).toContain('data-label="T1" data-state="FREE"');
    for (const state of ['Free', 'Held', 'Booked', 'Seated']) expect(svg).toContain(`>${state}</text>`);

    const unchanged = await fetch(url, { headers: { 'if-none-match': '"0"' } });
    expect(unchanged.status).toBe(304);

    const token = await app.token({ subject: 'svg-guest' });
    await graphql(app.url, HOLD, { token, variables: { input: { nightId: night!.id, tableId: tables[1]!.id, partySize: 2, idempotencyKey: 'svg' } } });
    const changed = await fetch(url, { headers: { 'if-none-match': '"0"' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).toBe('"1"');
    expect(await changed.text()).toContain('data-label="T2" data-state="HELD"');
  });

  it('answers 404 for an unknown club, an unknown night, or a night of another club', async () => {
    const club = await fx.club();
    const other = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    for (const path of [
      `/clubs/nowhere/nights/${night!.id}/hall.svg`,
      `/clubs/${club.slug}/nights/00000000-0000-4000-8000-000000000000/hall.svg`,
      `/clubs/${club.slug}/nights/not-a-uuid/hall.svg`,
      `/clubs/${other.slug}/nights/${night!.id}/hall.svg`,
      `/live/00000000-0000-4000-8000-000000000000`,
    ]) {
      expect({ path, status: (await fetch(base + path)).status }).toEqual({ path, status: 404 });
    }
  });

  it('serves the live page of a night', async () => {
    const club = await fx.club({ name: 'Live <Club>' });
    const [night] = await fx.nights(club.id, 1);
    const page = await fetch(`${base}/live/${night!.id}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Live &#60;Club&#62;');
    expect(html).toContain(`/clubs/${club.slug}/nights/${night!.id}/hall.svg`);
  });
});

describe('renderHall', () => {
  it('escapes labels and sizes the plan to its tables', () => {
    const table = { id: 't', clubId: 'c', label: '<A&B>', capacity: 4, minDepositMinor: 0, zone: null, x: 20, y: 10, width: 3, height: 2, retiredAt: null };
    const svg = renderHall('Club', { nightId: 'n', clubId: 'c', version: 7, currency: 'EUR', tables: [{ table, state: 'SEATED', booking: null, session: null }] });
    expect(svg).toContain('data-label="&#60;A&#38;B&#62;"');
    expect(svg).toContain('data-version="7"');
    // 23 units wide and 12 high at 32 px per unit, plus margins and the legend.
    expect(svg).toMatch(/viewBox="0 0 768 456"/);
  });
});
