import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  url: string;
  /** `http://127.0.0.1:<port>`: for /healthz, /readyz and new connections. */
  base: string;
  pid: number;
  /** Resolves when the process has exited, with how and when (`Date.now()`). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** What it wrote to stdout so far: its log lines (at LOG_LEVEL, warn by default) and the start banner. */
  stdout(): string;
  /** Sends a signal as an operator (or the kernel) would: SIGSTOP, SIGCONT, SIGKILL. */
  signal(signal: NodeJS.Signals): void;
  /** The instance's Prometheus metrics. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `npm start`'s entry point as a separate process — another instance, as a load
 * balancer would run it — and waits until it is ready. A variable given as undefined is
 * left out of its environment. `launch` runs another command instead (the production
 * image's `CMD` in its own folder, `npm start`): the signals then go to that process.
 */
export async function startServerProcess(
  env: Record<string, string | undefined>,
  launch: { command: string; args: string[]; cwd: string } = { command: process.execPath, args: ['--import', 'tsx', 'src/main.ts'], cwd: root },
): Promise<ServerProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', SEED_DEMO_DATA: 'false', HOST: '127.0.0.1', RATE_LIMIT_ENABLED: 'false', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  let stdout = '';
  child.stdout?.on('data', (chunk) => {
    stdout += String(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`server did not become ready: ${stderr}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `${base}/graphql`,
    base,
    pid: child.pid!,
    exited,
    stderr: () => stderr,
    stdout: () => stdout,
    signal: (signal) => void child.kill(signal),
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
