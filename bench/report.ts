import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './load.js';
import type { Summary } from './scenario.js';

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

/** One variant of one scenario, as measured. */
export interface Measurement extends LoadResult {
  label: string;
  sqlPerRequest: number;
  /** Measured without the run's rate (see `ServerVariant.closedLoop`). */
  closedLoop?: boolean;
  /** From the scenario's observer and side load, if any. */
  summaries: Summary[];
}

/** How the load was applied; the same for every variant of a run. */
export interface LoadShape {
  connections: number;
  durationS: number;
  rate: number | undefined;
  scale: number;
}

export function formatLine(scenario: string, nameWidth: number, m: Measurement, shape: LoadShape): string {
  const errors =
    m.errors === 0
      ? 'errors 0'
      : `errors ${m.errors} (transport ${m.errorKinds.transport}, non-2xx ${m.errorKinds.non2xx}, graphql ${m.errorKinds.graphql})`;
  return [
    scenario.padEnd(nameWidth),
    m.label.padEnd(LABEL_WIDTH),
    `${effectiveConnections(shape)} conn`,
    ...(shape.rate ? [`rate ${shape.rate}/s`] : []),
    `${shape.durationS}s`,
    `${Math.round(m.rps)} req/s`,
    `p50 ${ms(m.p50Ms)}`,
    `p95 ${ms(m.p95Ms)}`,
    `p99 ${ms(m.p99Ms)}`,
    errors,
    `sql/req ${Number.isNaN(m.sqlPerRequest) ? 'n/a' : m.sqlPerRequest.toFixed(1)}`,
  ].join('  ');
}

/** The lines of a measurement's summaries, under its own line. */
export function formatSummaries(scenario: string, nameWidth: number, m: Measurement): string[] {
  return m.summaries.flatMap((s) => s.lines).map((line) => `${scenario.padEnd(nameWidth)}  ${m.label.padEnd(LABEL_WIDTH)}  ${line}`);
}

const LABEL_WIDTH = 9;

export function formatRatio(
  scenario: string,
  nameWidth: number,
  first: Measurement,
  second: Measurement,
  rateLimited: boolean,
): string {
  return [
    scenario.padEnd(nameWidth),
    `${first.label}/${second.label}`,
    `${ratio(first, second).toFixed(2)}× req/s`,
    // Two servers that both keep up with the rate serve it equally; only latency differs.
    ...(rateLimited ? ['(rate-limited: a ratio near 1 means both kept up; compare latencies)'] : []),
  ].join('  ');
}

/**
 * Writes bench/results/<scenario>.json: the first variant's fields at the top, the second
 * under its label (`naive` for the default variants).
 */
export async function writeResult(
  scenario: string,
  shape: LoadShape,
  first: Measurement,
  second: Measurement | undefined,
): Promise<string> {
  const result = {
    scenario,
    connections: effectiveConnections(shape),
    durationS: shape.durationS,
    rate: shape.rate ?? null,
    scale: shape.scale,
    label: first.label,
    ...fields(first),
    ...(second ? { [second.label]: fields(second) } : {}),
    ratio: second ? round(ratio(first, second), 2) : null,
  };
  return writeJson(scenario, result);
}

/** Writes `result` to bench/results/<scenario>.json; returns the file's path. */
export async function writeJson(scenario: string, result: Record<string, unknown>): Promise<string> {
  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}${scenario}.json`;
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

function fields(m: Measurement) {
  return {
    ...(m.closedLoop ? { rate: null } : {}),
    requests: m.requests,
    rps: round(m.rps, 1),
    p50Ms: round(m.p50Ms, 2),
    p95Ms: round(m.p95Ms, 2),
    p99Ms: round(m.p99Ms, 2),
    errors: m.errors,
    errorKinds: m.errorKinds,
    sqlPerRequest: round(m.sqlPerRequest, 2),
    ...Object.assign({}, ...m.summaries.map((s) => s.fields)),
  };
}

/** autocannon never opens more connections than the rate asks for per second. */
function effectiveConnections(shape: LoadShape): number {
  return shape.rate ? Math.min(shape.connections, shape.rate) : shape.connections;
}

const ratio = (first: Measurement, second: Measurement) => first.rps / second.rps;
export const round = (value: number, digits: number) => Number(value.toFixed(digits));
export const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : `${value.toFixed(1)} ms`);
