import type { BenchRequest } from './scenario.js';

/** How long `post` waits for an answer unless told otherwise. */
const POST_TIMEOUT_MS = 10_000;

/** One POST to /graphql for the load, serialized once; anonymous without `token`. */
export function graphqlRequest(query: string, variables: Record<string, unknown>, token?: string): BenchRequest {
  return {
    body: JSON.stringify({ query, variables }),
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
  };
}

/** What one request sent with `post` got: its `data`, or the code and message of what went wrong. */
export interface Posted {
  data?: unknown;
  /** The first GraphQL error's `extensions.code`, `HTTP <status>`, TRANSPORT or TIMEOUT. */
  code?: string;
  message?: string;
}

/** One request, answered or not: never throws, so a writer under load counts its failures instead. */
export async function post(
  url: string,
  token: string | undefined,
  query: string,
  variables: Record<string, unknown>,
  timeoutMs = POST_TIMEOUT_MS,
): Promise<Posted> {
  try {
    const response = await send(url, token, query, variables, timeoutMs);
    const answer = (await response.json()) as { data?: unknown; errors?: { message?: string; extensions?: { code?: string } }[] };
    const first = answer.errors?.[0];
    if (first) return { code: first.extensions?.code ?? 'UNKNOWN', message: first.message };
    if (!response.ok) return { code: `HTTP ${response.status}`, message: `status ${response.status}` };
    return { data: answer.data };
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    return { code: timedOut ? 'TIMEOUT' : 'TRANSPORT', message: error instanceof Error ? error.message : String(error) };
  }
}

/** One request that must succeed: its `data`, or an error quoting the answer. */
export async function graphql<T>(
  url: string,
  token: string | undefined,
  query: string,
  variables: Record<string, unknown>,
  timeoutMs: number,
): Promise<T> {
  const response = await send(url, token, query, variables, timeoutMs);
  const text = await response.text();
  const answer = JSON.parse(text) as { data?: T; errors?: unknown[] };
  if (!response.ok || answer.errors?.length || !answer.data) throw new Error(`GraphQL answered ${response.status}: ${text.slice(0, 500)}`);
  return answer.data;
}

function send(url: string, token: string | undefined, query: string, variables: Record<string, unknown>, timeoutMs: number) {
  const { body, headers } = graphqlRequest(query, variables, token);
  // A signal per request: undici leaves a listener on a shared one for every fetch.
  return fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
}
