import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Subscription<T> {
  /** Every result received so far. */
  results: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] }[];
  /** Resolves when `predicate` holds for the results received (polling them). */
  until(predicate: (results: Subscription<T>['results']) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Subscribes over graphql-ws the way a dashboard does. */
export async function subscribe<T = any>(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown>,
  options: { token?: string } = {},
): Promise<Subscription<T>> {
  const client: Client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : {},
  });
  const results: Subscription<T>['results'] = [];
  let failure: unknown;
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => void results.push(result as Subscription<T>['results'][number]),
      // GraphQL errors of a refused subscription arrive as a list; anything else is a transport failure.
      error: (error) => {
        if (Array.isArray(error)) results.push({ errors: error });
        else failure = error;
      },
      complete: () => {},
    },
  );
  return {
    results,
    async until(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(results)) {
        if (failure) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
        if (Date.now() > deadline) throw new Error(`subscription condition not met in ${timeoutMs} ms; got ${JSON.stringify(results)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      dispose();
      await client.dispose();
    },
  };
}
