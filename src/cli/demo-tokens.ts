import { demoSubjects } from '../modules/demo/seed.js';
import type { TokenService } from '../platform/tokens.js';

/**
 * One ready token per role for the demo users, valid for 30 days. They name no clubs:
 * the demo's staff are kept in PostgreSQL (the host works at Neon Basement, the manager
 * at every demo club), as a manager adds and removes them through the API.
 */
export async function demoTokens(tokens: TokenService): Promise<Record<keyof typeof demoSubjects, string>> {
  const expiresIn = '30d';
  return {
    guest: await tokens.sign({ subject: demoSubjects.guest, roles: ['guest'], clubIds: [] }, expiresIn),
    host: await tokens.sign({ subject: demoSubjects.host, roles: ['host'], clubIds: [] }, expiresIn),
    manager: await tokens.sign({ subject: demoSubjects.manager, roles: ['manager'], clubIds: [] }, expiresIn),
    admin: await tokens.sign({ subject: demoSubjects.admin, roles: ['admin'], clubIds: [] }, expiresIn),
  };
}
