import { createClient } from 'graphql-sse';

/** A result as a streaming client receives it. */
export type StreamResult = { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };

/**
 * Subscribes with graphql-sse's own client to `<graphql url>/stream`, in its distinct
 * connections mode or its single connection mode: what it received, its failure, whether
 * the server completed it.
 */
export function sseSubscribe(
  graphqlUrl: string,
  options: { singleConnection: boolean; token?: string | undefined },
  request: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> },
) {
  const client = createClient({
    url: `${graphqlUrl}/stream`,
    singleConnection: options.singleConnection,
    retryAttempts: 0,
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  });
  const results: StreamResult[] = [];
  let failure: unknown;
  let completed = false;
  const dispose = client.subscribe(request, {
    next: (r) => void results.push(r as StreamResult),
    error: (e) => void (failure = e),
    complete: () => void (completed = true),
  });
  return {
    results,
    failure: () => failure,
    completed: () => completed,
    close() {
      dispose();
      client.dispose();
    },
  };
}
