import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';

/** Where an identity provider's signing keys come from. */
export interface ProviderKeysOptions {
  /** The key set's own URL; wins over discovery when both are given. */
  jwksUrl?: string | undefined;
  /** An OpenID Connect issuer whose discovery document names the key set. */
  oidcIssuer?: string | undefined;
  /** After a fetch, how long an unknown `kid` waits before the set is fetched again. */
  cooldownMs: number;
  /** How old the fetched set may grow before it is fetched again. */
  cacheMaxAgeMs: number;
  /** Bound on one request to the provider. */
  timeoutMs: number;
  /** Told of every request to the provider and how it went. */
  onFetch?: (document: 'discovery' | 'keys', outcome: 'ok' | 'error') => void;
}

export interface ProviderKeys {
  /**
   * The key lookup for `jwtVerify`, and the issuer the provider's discovery document
   * names (undefined without discovery). Discovery runs on first use and, after a
   * failure, again once the cooldown has passed — never once per request.
   */
  resolve(): Promise<{ getKey: JWTVerifyGetKey; discoveredIssuer: string | undefined }>;
  /** Grows each time the key set is fetched anew: a token verified under an older set is verified again. */
  readonly generation: number;
  /** Whether the fetched set is younger than its maximum age (an older one is fetched before it is trusted again). */
  readonly fresh: boolean;
}

/**
 * An identity provider's keys through jose's remote key set: cached, fetched again when
 * a token names an unknown `kid` (at most once per cooldown, so tokens with made-up
 * `kid`s cannot make us hammer the provider) or when the set is older than its maximum
 * age — key rotation needs no restart.
 */
export function providerKeys(options: ProviderKeysOptions): ProviderKeys {
  let generation = 0;
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovery: { at: number; failed: boolean; result: Promise<{ getKey: JWTVerifyGetKey; discoveredIssuer: string | undefined }> } | undefined;

  const fetchKeys = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    try {
      const response = await fetch(url, init);
      options.onFetch?.('keys', response.status === 200 ? 'ok' : 'error');
      if (response.status === 200) generation += 1;
      return response;
    } catch (error) {
      options.onFetch?.('keys', 'error');
      throw error;
    }
  };
  const keySet = (jwksUrl: string) =>
    createRemoteJWKSet(new URL(jwksUrl), {
      cooldownDuration: options.cooldownMs,
      cacheMaxAge: options.cacheMaxAgeMs,
      timeoutDuration: options.timeoutMs,
      [customFetch]: fetchKeys,
    });

  const discover = async () => {
    const issuer = options.oidcIssuer!;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs), redirect: 'manual' });
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
      document = (await response.json()) as typeof document;
      if (typeof document.jwks_uri !== 'string' || typeof document.issuer !== 'string') throw new Error(`${url} names no issuer and jwks_uri`);
      // OpenID Connect Discovery 1.0, section 4.3: the document's issuer is the one configured.
      if (document.issuer.replace(/\/+$/, '') !== issuer.replace(/\/+$/, '')) {
        throw new Error(`${url} names issuer ${document.issuer}, not ${issuer}`);
      }
    } catch (error) {
      options.onFetch?.('discovery', 'error');
      throw error;
    }
    options.onFetch?.('discovery', 'ok');
    remote = keySet(options.jwksUrl ?? document.jwks_uri);
    return { getKey: remote as JWTVerifyGetKey, discoveredIssuer: document.issuer };
  };

  if (options.jwksUrl && !options.oidcIssuer) remote = keySet(options.jwksUrl);
  const known = remote ? Promise.resolve({ getKey: remote as JWTVerifyGetKey, discoveredIssuer: undefined }) : undefined;

  return {
    resolve() {
      if (known) return known;
      if (!discovery || (discovery.failed && Date.now() - discovery.at >= options.cooldownMs)) {
        const attempt = { at: Date.now(), failed: false, result: discover() };
        attempt.result.catch(() => {
          attempt.failed = true;
        });
        discovery = attempt;
      }
      return discovery.result;
    },
    get generation() {
      return generation;
    },
    get fresh() {
      return remote?.fresh ?? false;
    },
  };
}
