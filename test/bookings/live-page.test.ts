import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';

// A real browser: Debian's chromium (`.ci/run` installs it), driven by playwright-core.
describe.skipIf(!existsSync(CHROMIUM))('the live floor plan in a browser (needs /usr/bin/chromium)', () => {
  let app: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    app = await startTestApp();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('recolours a table live after a hold made through the API, without a reload', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club({ name: 'Browser Club' });
    const tables = await fx.tables(club.id, 6);
    const [night] = await fx.nights(club.id, 1);
    const page = await browser.newPage({ viewport: { width: 900, height: 420 } });
    try {
      await page.goto(`${app.url.replace(/\/graphql$/, '')}/live/${night!.id}`);
      await page.waitForSelector('g.table[data-label="T3"][data-state="FREE"]', { timeout: 10_000 });
      await page.waitForSelector('#status:has-text("live")', { timeout: 10_000 });

      const token = await app.token({ subject: 'browser-guest' });
      const held = await graphql(app.url, `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`, {
        token,
        variables: { input: { nightId: night!.id, tableId: tables[2]!.id, partySize: 2, idempotencyKey: 'browser' } },
      });
      expect(held.errors).toBeUndefined();
      // How soon is the fanout bench's figure (a change to its subscribers); here a bound far
      // above it only guards against a page that never updates.
      await page.waitForSelector('g.table[data-label="T3"][data-state="HELD"]', { timeout: 10_000 });
      expect(await page.getAttribute('g.table[data-label="T3"] rect', 'fill')).toBe('#e0a100');

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}/live-floor-plan.png` });
    } finally {
      await page.close();
    }
  });
});
