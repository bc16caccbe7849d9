// `npm run token -- --sub alice --role host --club <clubId> [--role …] [--club …] [--expires 12h]`
// prints a bearer token signed with the server's secret (JWT_SECRET, or the embedded one).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../config.js';
import { roles } from '../platform/auth.js';
import { createTokenService, resolveJwtSecret } from '../platform/tokens.js';

const usage = 'usage: npm run token -- --sub <subject> --role <guest|host|manager|admin> [--role …] [--club <clubId> …] [--expires 12h]';

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    role: { type: 'string', multiple: true, default: ['guest'] },
    club: { type: 'string', multiple: true, default: [] },
    expires: { type: 'string', default: '12h' },
  },
});

const args = z
  .object({
    sub: z.string({ error: 'missing --sub' }).min(1),
    role: z.array(z.enum(roles)).min(1),
    club: z.array(z.uuid({ error: '--club takes a club id (uuid)' })),
    expires: z.string().regex(/^\d+[smhdw]$/, '--expires looks like 30m, 12h or 7d'),
  })
  .safeParse(values);
if (!args.success) {
  console.error(`${args.error.issues.map((i) => i.message).join('; ')}\n${usage}`);
  process.exit(2);
}

const config = loadConfig();
if (config.identityProvider) {
  console.error('This server verifies the identity provider’s tokens (JWT_JWKS_URL or JWT_OIDC_ISSUER): get one from the provider.');
  process.exit(2);
}
const secret = resolveJwtSecret(config.jwtSecret, config.dataDir, (message) => console.error(message));
const token = await createTokenService({ ...config.tokenClaims, secret }).sign(
  { subject: args.data.sub, roles: args.data.role, clubIds: args.data.club },
  args.data.expires,
);
console.log(token);
