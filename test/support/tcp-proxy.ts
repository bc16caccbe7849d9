import { connect, createServer, type Socket } from 'node:net';

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
}

/**
 * A TCP proxy on a loopback port in front of `target`, for tests that take a server away
 * from the app (and give it back) without touching the server itself.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const lines = new Set<Line>();
  let mode: 'open' | 'reset' | 'silent' = 'open';
  let latencyMs = 0;

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

  const server = createServer((client) => {
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const line: Line = { client, upstream: undefined, held: { toUpstream: [], toClient: [] }, dueAt: { toUpstream: 0, toClient: 0 } };
    lines.add(line);
    client.on('data', (chunk: Buffer) => send(line, 'toUpstream', chunk));
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
      mode = options.silently ? 'silent' : 'reset';
      if (mode === 'silent') return;
      for (const line of [...lines]) {
        lines.delete(line);
        line.client.resetAndDestroy();
        line.upstream?.resetAndDestroy();
      }
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
