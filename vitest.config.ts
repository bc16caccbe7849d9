import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';
import { ServerSkipsReporter } from './test/support/server-skips-reporter.js';

const require = createRequire(import.meta.url);

export default defineConfig({
  // Node resolves `graphql` to its CommonJS entry (it has no "exports" map) while Vite
  // prefers the "module" field; two copies of graphql in one process break its
  // instanceof checks. Point Vite at the same file Node loads.
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', new ServerSkipsReporter()],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
