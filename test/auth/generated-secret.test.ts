import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** A process that waits for `startAt` (ms since the epoch), then prints the secret it resolves in `dataDir`. */
const resolveIn = (dataDir: string, startAt: number) =>
  run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { resolveJwtSecret } from './src/platform/tokens.ts';
       while (Date.now() < ${startAt});
       process.stdout.write(resolveJwtSecret(undefined, ${JSON.stringify(dataDir)}, () => {}));`,
    ],
    { cwd: root },
  ).then(({ stdout }) => stdout);

describe('a generated JWT secret', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nightgraph-secret-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is the same for every process that starts on the data directory at once (WEB_CONCURRENCY workers), and kept', async () => {
    // Loading the modules takes a while: every process resolves at the same moment after it.
    const startAt = Date.now() + 4_000;
    const secrets = await Promise.all(Array.from({ length: 6 }, () => resolveIn(dataDir, startAt)));
    expect(new Set(secrets).size).toBe(1);
    expect(secrets[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim()).toBe(secrets[0]);
    // No process's draft is left beside it.
    expect(readdirSync(dataDir)).toEqual(['jwt-secret']);
  });
});
