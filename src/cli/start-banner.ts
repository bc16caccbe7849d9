import type { Config } from '../config.js';
import type { RunningApp } from '../server/app.js';
import { demoTokens } from './demo-tokens.js';

/**
 * What `npm start` prints once the server listens: where it is, what it runs on, and one
 * demo token per role when it signs its own. Undefined in production, which prints
 * nothing of the kind (tokens included).
 */
export async function startBanner(config: Config, running: Pick<RunningApp, 'url' | 'dbKind' | 'tokens'>): Promise<string | undefined> {
  if (config.env === 'production') return undefined;
  const processes = config.webConcurrency > 1 ? ` ${config.webConcurrency} worker processes.` : '';
  const lines = [
    '',
    `  Nightgraph is running: ${running.url}`,
    `  Open it in a browser for Apollo Sandbox. Database: ${running.dbKind}${config.redis ? ' + Redis' : ' (embedded)'}.${processes}`,
    '',
  ];
  if (running.tokens.signs) {
    const tokens = await demoTokens(running.tokens);
    lines.push(
      '  Demo tokens (send as "Authorization: Bearer <token>"):',
      ...Object.entries(tokens).map(([role, token]) => `    ${role.padEnd(8)} ${token}`),
      '',
    );
  } else {
    lines.push('  Bearer tokens come from the identity provider (JWT_JWKS_URL or JWT_OIDC_ISSUER).', '');
  }
  return `${lines.join('\n')}\n`;
}
