import { startTcpProxy, type TcpProxy } from '../../test/support/tcp-proxy.js';
import type { RunContext } from '../scenario.js';
import { get, mismatch, readNight, timeUntil } from './answers.js';
import type { Figures } from './figures.js';
import { MEASURED_REQUESTS_ONLY } from './server-env.js';

/** Far above what a fast failure takes: one that waited for the statement timeout shows. */
export const STATEMENT_TIMEOUT_MS = 20_000;
const SERVER_ENV = {
  DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
  DB_CONNECT_TIMEOUT_S: '2',
  ...MEASURED_REQUESTS_ONLY,
};
/** Requests per repetition once the server knows PostgreSQL is down. */
const KNOWN_DOWN_READS = 3;
const BOUND_MS = 10_000;
/** A silent cut's first read may take until the statement timeout if detection fails: let it, and see. */
const SILENT_BOUND_MS = STATEMENT_TIMEOUT_MS + 5_000;
const POLL_MS = 10;

interface Run {
  ctx: RunContext;
  figures: Figures;
  proxy: TcpProxy;
  url: string;
  base: string;
  nightId: string;
}

/**
 * PostgreSQL gone, as the server sees it through a TCP proxy the bench cuts and restores
 * (the machine's PostgreSQL is never touched): refusing connections, then silently
 * dropping everything. The server must fail requests with DATABASE_UNAVAILABLE at once,
 * say not ready, and be ready again by itself once PostgreSQL answers.
 */
export async function measureUnreachable(ctx: RunContext, nightId: string, figures: Figures, repetitions: number): Promise<void> {
  const database = new URL(ctx.databaseUrl);
  // new URL keeps an IPv6 host in brackets; net.connect wants it bare.
  const proxy = await startTcpProxy({ host: database.hostname.replace(/^\[|\]$/g, ''), port: Number(database.port || 5432) });
  try {
    const server = await ctx.startServer({ ...SERVER_ENV, DATABASE_URL: proxy.url(ctx.databaseUrl) });
    const run: Run = { ctx, figures, proxy, url: server.url, base: server.url.replace(/\/graphql$/, ''), nightId };
    try {
      for (let i = 1; i <= repetitions; i += 1) {
        ctx.log(`PostgreSQL refusing: repetition ${i} of ${repetitions}`);
        await refusedOnce(run);
      }
      for (let i = 1; i <= repetitions; i += 1) {
        ctx.log(`PostgreSQL silent: repetition ${i} of ${repetitions}`);
        await silentOnce(run);
      }
    } finally {
      proxy.restore();
      await server.stop();
    }
  } finally {
    await proxy.close();
  }
}

/** Connections reset and new ones refused, as when PostgreSQL stops or its host is gone. */
async function refusedOnce(run: Run): Promise<void> {
  const { ctx, figures, proxy } = run;
  if (!(await servingBefore(run, 'refused'))) return;
  proxy.cut();
  const first = await readNight(run.url, run.nightId, ctx.signal, BOUND_MS);
  figures.answer('refused.first', first, { status: 503, reason: 'DATABASE_UNAVAILABLE' });
  const down = await timeUntil(async () => (await get(`${run.base}/readyz`, ctx.signal, BOUND_MS)).status === 503, POLL_MS, BOUND_MS, ctx.signal);
  if (down === undefined) figures.fail(`refused: /readyz did not say 503 within ${BOUND_MS} ms`);
  figures.answer('refused.readyz', await get(`${run.base}/readyz`, ctx.signal, BOUND_MS), { status: 503 });
  for (let i = 0; i < KNOWN_DOWN_READS; i += 1) {
    figures.answer('refused.knownDown', await readNight(run.url, run.nightId, ctx.signal, BOUND_MS), { status: 503, reason: 'DATABASE_UNAVAILABLE' });
  }
  await restoreAndTime(run, 'refused.recovery');
}

/** Nothing forwarded and nobody told, as on a network that drops everything. */
async function silentOnce(run: Run): Promise<void> {
  const { ctx, figures, proxy } = run;
  if (!(await servingBefore(run, 'silent'))) return;
  proxy.cut({ silently: true });
  const first = await readNight(run.url, run.nightId, ctx.signal, SILENT_BOUND_MS);
  figures.answer('silent.first', first, { status: 503, reason: 'DATABASE_UNAVAILABLE' });
  const readyz = await get(`${run.base}/readyz`, ctx.signal, BOUND_MS);
  const wrong = mismatch(readyz, { status: 503 });
  if (wrong) figures.fail(`silent: /readyz once known down: ${wrong}`);
  await restoreAndTime(run, 'silent.recovery');
}

/** Restores the line and times it until /readyz says 200 again; then a read must answer. */
async function restoreAndTime(run: Run, name: string): Promise<void> {
  const { ctx, figures } = run;
  run.proxy.restore();
  const ready = await timeUntil(async () => (await get(`${run.base}/readyz`, ctx.signal, BOUND_MS)).status === 200, POLL_MS, 30_000, ctx.signal);
  if (ready === undefined) figures.fail(`${name}: /readyz not 200 within 30 s of the restore`);
  else figures.add(name, ready);
}

/** A read answers before the cut, so the pool holds live connections as a serving one does. */
async function servingBefore(run: Run, what: string): Promise<boolean> {
  const answer = await readNight(run.url, run.nightId, run.ctx.signal, BOUND_MS);
  const wrong = mismatch(answer, { status: 200, answered: true });
  if (wrong) run.figures.fail(`${what}: a read before the cut: ${wrong} (repetition skipped)`);
  return wrong === undefined;
}
