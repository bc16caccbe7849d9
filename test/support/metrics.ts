/**
 * The value of one series in a Prometheus text exposition. Throws when the series is
 * absent, so an assertion on it can never pass on a metric that is not there.
 */
export function sample(metrics: string, series: string): number {
  const value = sampleIfPresent(metrics, series);
  if (value === undefined) throw new Error(`no series ${series} in the scrape`);
  return value;
}

/**
 * For a labelled counter, which has no series until its first increment: 0 when absent.
 * Use it only where "never counted" is a legitimate answer.
 */
export function counterValue(metrics: string, series: string): number {
  return sampleIfPresent(metrics, series) ?? 0;
}

function sampleIfPresent(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The app's /metrics, given its /graphql URL. */
export async function scrape(graphqlUrl: string): Promise<string> {
  return (await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
}
