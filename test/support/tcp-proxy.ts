import { connect, createServer, type Socket } from 'node:net';
import { StatementReader } from './pg-statements.js';

export interface TcpProxy {
  /** The loopback port it listens on. */
  port: number;
  /** `url` (postgres://…, redis://…) with its host and port replaced by the proxy's. */
  url(url: string): string;
  /**
   * Cuts the line. By default as when the server goes away: every open connection is reset
   * and new ones are reset as soon as they are accepted. With `silently`, as on a network
   * that drops everything: connections stay open and nothing is forwarded either way, nor
   * is anybody told; new connections are accepted and hear nothing.
   */
  cut(options?: { silently?: boolean }): void;
  /**
   * For a PostgreSQL target: cuts the line (as `cut()` does) the moment a client runs a
   * statement starting with `at` on a connection that ran one starting with `after`
   * earlier — e.g. `cutWhenSent('commit', { after: 'begin' })` lands inside a transaction.
   * With `forward: false` the chunk carrying it is dropped, so the server never sees it;
   * with `forward: true` it is sent first. Matching ignores case. Resolves once the line is cut.
   */
  cutWhenSent(at: string, options: { after: string; forward: boolean }): Promise<void>;
  /** Forwards again: new connections reach the target; silently held ones resume, in order. */
  restore(): void;
  /** Holds every chunk for `ms` before forwarding it, both ways, order kept (0: none). */
  delay(ms: number): void;
  /** Connections open through the proxy now. */
  connections(): number;
  close(): Promise<void>;
}

interface Line {
  client: Socket;
  upstream: Socket | undefined;
  /** Chunks held while the line is silently cut, per direction. */
  held: { toUpstream: Buffer[]; toClient: Buffer[] };
  /** When the last chunk of each direction is due, so a shorter delay never overtakes. */
  dueAt: { toUpstream: number; toClient: number };
  /** What the client runs, for a PostgreSQL target. */
  statements: StatementReader;
  /** Whether this connection ran the armed trigger's `after` statement. */
  sawAfter: boolean;
}

interface Trigger {
  at: string;
  after: string;
  forward: boolean;
  fired(): void;
}

/**
 * A TCP proxy on a loopback port in front of `target`, for tests that take a server away
 * from the app (and give it back) without touching the server itself.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const lines = new Set<Line>();
  let mode: 'open' | 'reset' | 'silent' = 'open';
  let latencyMs = 0;
  let trigger: Trigger | undefined;

  const end = (line: Line) => {
    lines.delete(line);
    line.client.destroy();
    line.upstream?.destroy();
  };
  const send = (line: Line, direction: 'toUpstream' | 'toClient', chunk: Buffer) => {
    if (mode === 'silent') {
      line.held[direction].push(chunk);
      return;
    }
    const to = direction === 'toUpstream' ? line.upstream! : line.client;
    const due = Math.max(Date.now() + latencyMs, line.dueAt[direction]);
    line.dueAt[direction] = due;
    if (due <= Date.now()) to.write(chunk);
    else setTimeout(() => to.destroyed || to.write(chunk), due - Date.now());
  };
  const openUpstream = (line: Line) => {
    const upstream = connect(target.port, target.host);
    line.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => send(line, 'toClient', chunk));
    upstream.on('error', () => end(line));
    upstream.on('close', () => {
      // Closing follows the data it came after.
      const wait = Math.max(0, line.dueAt.toClient - Date.now());
      setTimeout(() => end(line), wait);
    });
  };

  const cutAll = () => {
    mode = 'reset';
    for (const line of [...lines]) {
      lines.delete(line);
      line.client.resetAndDestroy();
      line.upstream?.resetAndDestroy();
    }
  };
  /** Whether `chunk`, sent by the client, fires the armed trigger (it then cuts the line). */
  const fires = (line: Line, chunk: Buffer): boolean => {
    const run = line.statements.read(chunk).map((text) => text.trimStart().toLowerCase());
    if (!trigger) return false;
    const armed = trigger;
    let hit = false;
    for (const text of run) {
      if (line.sawAfter && text.startsWith(armed.at)) hit = true;
      else if (text.startsWith(armed.after)) line.sawAfter = true;
    }
    if (!hit) return false;
    trigger = undefined;
    if (armed.forward) line.upstream!.write(chunk, () => cutAll());
    else cutAll();
    armed.fired();
    return true;
  };

  const server = createServer((client) => {
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const line: Line = { client, upstream: undefined, held: { toUpstream: [], toClient: [] }, dueAt: { toUpstream: 0, toClient: 0 }, statements: new StatementReader(), sawAfter: false };
    lines.add(line);
    client.on('data', (chunk: Buffer) => {
      if (!fires(line, chunk)) send(line, 'toUpstream', chunk);
    });
    client.on('error', () => end(line));
    client.on('close', () => {
      const wait = Math.max(0, line.dueAt.toUpstream - Date.now());
      setTimeout(() => end(line), wait);
    });
    // On a silent network the connection would not even reach the server.
    if (mode !== 'silent') openUpstream(line);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url(url) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut(options = {}) {
      if (options.silently) mode = 'silent';
      else cutAll();
    },
    cutWhenSent(at, { after, forward }) {
      for (const line of lines) line.sawAfter = false;
      return new Promise<void>((fired) => {
        trigger = { at: at.toLowerCase(), after: after.toLowerCase(), forward, fired };
      });
    },
    restore() {
      const wasSilent = mode === 'silent';
      mode = 'open';
      if (!wasSilent) return;
      for (const line of lines) {
        if (!line.upstream) openUpstream(line);
        for (const direction of ['toUpstream', 'toClient'] as const) {
          for (const chunk of line.held[direction].splice(0)) send(line, direction, chunk);
        }
      }
    },
    delay(ms) {
      latencyMs = ms;
    },
    connections: () => lines.size,
    close() {
      for (const line of [...lines]) end(line);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
