import type { Reporter, TestModule } from 'vitest/node';

/** How a test that needs real PostgreSQL or Redis says so in its own or its suite's name. */
const NEEDS_SERVERS = /\(needs real (PostgreSQL|Redis)/;

/**
 * Ends the run with one line naming how many tests were skipped because PostgreSQL or
 * Redis was not given, and how to run them: a plain `npm test` would otherwise pass
 * quietly without any of the concurrency, fault and multi-instance claims.
 */
export class ServerSkipsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) {
        if (NEEDS_SERVERS.test(test.fullName)) skipped += 1;
      }
    }
    if (skipped === 0) return;
    process.stdout.write(
      `\n${skipped} test${skipped === 1 ? '' : 's'} skipped for want of real PostgreSQL/Redis (races, faults, several instances). ` +
        'Run them with: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm test\n',
    );
  }
}
