// What every floor shares: its database client, the JWT check the server makes, and a
// bare node:http server answering /readyz and POST /graphql on PORT.
import { createServer } from 'node:http';
import { jwtVerify, type JWTPayload } from 'jose';
import postgres from 'postgres';

export const sql = postgres(process.env.DATABASE_URL!, { max: Number(process.env.DB_POOL_MAX ?? 10), prepare: true, onnotice: () => {} });
const key = new TextEncoder().encode(process.env.JWT_SECRET!);

/** The claims of the request's bearer token, verified as the server verifies them; null without one. */
export async function claimsOf(authorization: string | undefined): Promise<JWTPayload | null> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return null;
  return (await jwtVerify(token, key, { algorithms: ['HS256'], issuer: 'nightgraph' })).payload;
}

export const NO_TOKEN = { status: 401, json: '{"errors":[{"message":"no token"}]}' };

/** Serves `answer` (the request's Authorization header and body → status and JSON) until SIGTERM. */
export function serveFloor(answer: (authorization: string | undefined, body: string) => Promise<{ status: number; json: string }>): void {
  const server = createServer((req, res) => {
    if (req.url === '/readyz') {
      res.end('{"status":"ready"}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      answer(req.headers.authorization, Buffer.concat(chunks).toString('utf8')).then(
        ({ status, json }) => {
          res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
          res.end(json);
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ message: String(error) }] }));
        },
      );
    });
  });
  server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    void sql.end({ timeout: 5 }).then(() => process.exit(0));
  });
}
