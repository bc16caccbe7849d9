export interface GraphQLResponse<T = any> {
  status: number;
  headers: Headers;
  data: T | null | undefined;
  errors: { message: string; path?: (string | number)[]; extensions?: { code?: string; [k: string]: unknown } }[] | undefined;
  extensions: { sql?: { statements: number; durationMs: number } } | undefined;
}

/** Posts one GraphQL operation the way a web client does. */
export async function graphql<T = any>(
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: GraphQLResponse['errors']; extensions?: GraphQLResponse['extensions'] };
  return { status: response.status, headers: response.headers, data: body.data, errors: body.errors, extensions: body.extensions };
}

/** The `extensions.code` of each error, in order. */
export const codes = (response: GraphQLResponse) => (response.errors ?? []).map((e) => e.extensions?.code);
