import { sendJson, startHttpServer } from './http.js';

/** A span as an OTLP/HTTP JSON export carries it, flattened: attributes as a plain object. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: number;
  /** `service.name` of the resource that sent it. */
  service: string | undefined;
}

export interface OtlpReceiver {
  /** What to give OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Export requests that were not OTLP/HTTP JSON of traces. */
  rejected: number;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };

function valueOf(value: AnyValue): string | number | boolean {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  return '';
}

function attributesOf(list: { key: string; value: AnyValue }[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

/**
 * An OpenTelemetry collector standing in for the real one: a loopback HTTP server that
 * takes OTLP/HTTP JSON exports at `/v1/traces` (as the OTLP exporter sends them) and
 * keeps every span it was sent.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const receiver = {
    endpoint: '',
    spans,
    rejected: 0,
    close: async () => {},
  };
  const server = await startHttpServer((request, res) => {
    if (request.method !== 'POST' || request.path !== '/v1/traces' || !String(request.headers['content-type']).startsWith('application/json')) {
      receiver.rejected += 1;
      return sendJson(res, 415, { error: 'OTLP/HTTP JSON of traces only' });
    }
    const exported = JSON.parse(request.body) as {
      resourceSpans: {
        resource?: { attributes?: { key: string; value: AnyValue }[] };
        scopeSpans: { spans: any[] }[];
      }[];
    };
    for (const resourceSpans of exported.resourceSpans) {
      const service = attributesOf(resourceSpans.resource?.attributes)['service.name'];
      for (const scope of resourceSpans.scopeSpans) {
        for (const span of scope.spans) {
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            kind: span.kind,
            attributes: attributesOf(span.attributes),
            links: (span.links ?? []).map((l: { traceId: string; spanId: string }) => ({ traceId: l.traceId, spanId: l.spanId })),
            status: span.status?.code ?? 0,
            service: typeof service === 'string' ? service : undefined,
          });
        }
      }
    }
    sendJson(res, 200, {});
  });
  receiver.endpoint = server.origin;
  receiver.close = server.close;
  return receiver;
}
