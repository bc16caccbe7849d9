import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  /** What to give OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  /** Closes the sink; resolves with what it was sent. */
  close(): Promise<{ exports: number; spans: number; bytes: number }>;
}

/**
 * Where a traced server sends its spans during a run: a loopback OTLP/HTTP endpoint that
 * reads every export (as a collector's receiver would) and counts the spans, so a traced
 * run pays for exporting exactly as it would in production, minus the network.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let spans = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bytes += body.length;
      exports += 1;
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
        for (const resource of parsed.resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) spans += scope.spans?.length ?? 0;
      } catch {
        // Not JSON: counted in bytes only.
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve({ exports, spans, bytes }));
      }),
  };
}
