import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context as TraceContext,
  type Link,
  type Span,
} from '@opentelemetry/api';

/** Where traces go: the standard `OTEL_*` variables, read in config.ts. */
export interface TracingOptions {
  /** OTLP/HTTP traces endpoint (`…/v1/traces`); unset, nothing is traced. */
  tracesUrl: string | undefined;
  serviceName: string;
}

export interface Tracing {
  /** Exports what is still buffered and stops: the last step of a shutdown. */
  stop(): Promise<void>;
}

export type { Span };

/**
 * Spans are made only while an exporter is installed: with tracing off, every hook below
 * is one boolean test — no context propagation, no span objects — so the hot paths cost
 * what they cost before tracing existed.
 */
let enabled = false;

const tracer = trace.getTracer('nightgraph');

/** How long a stopping process waits for its last spans to be exported. */
const EXPORT_ON_STOP_MS = 1_000;

/**
 * Installs the OpenTelemetry SDK for this process when `tracesUrl` is set: spans batched
 * and sent over OTLP/HTTP (JSON), the W3C trace-context propagator, and the SDK's
 * AsyncLocalStorage context manager, so a span started while serving a request is the
 * parent of everything the request does. The resource carries `service.name`, and
 * whatever `OTEL_RESOURCE_ATTRIBUTES` adds. One per process: it registers the API's globals.
 * The SDK is loaded only then: a server that traces nothing does not pay its start-up.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.tracesUrl) return { stop: async () => {} };
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { envDetector, resourceFromAttributes, detectResources }, { BatchSpanProcessor, NodeTracerProvider }] =
    await Promise.all([
      import('@opentelemetry/core'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-node'),
    ]);
  const detected = detectResources({ detectors: [envDetector] });
  const provider = new NodeTracerProvider({
    resource: detected.merge(resourceFromAttributes({ 'service.name': options.serviceName })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.tracesUrl }))],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  enabled = true;
  return {
    async stop() {
      enabled = false;
      // A collector that is away must not hold the exit up: what it did not take by then is dropped.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, EXPORT_ON_STOP_MS)));
      await Promise.race([provider.shutdown().catch(() => {}), bound]);
      clearTimeout(timer);
    },
  };
}

/** Whether spans are being made in this process. */
export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * The span of one unit of work — an HTTP operation, a subscription, an outbox batch or
 * delivery — under the active span, or continuing the caller's trace when `carrier`
 * (request headers) is given. Returns the span and the context to run the work in;
 * undefined with tracing off.
 */
export function startSpan(
  name: string,
  options: { kind: SpanKind; attributes?: Attributes; links?: Link[]; carrier?: Record<string, unknown> },
): { span: Span; context: TraceContext } | undefined {
  if (!enabled) return undefined;
  const parent = options.carrier ? propagation.extract(ROOT_CONTEXT, options.carrier) : context.active();
  const span = tracer.startSpan(name, { kind: options.kind, attributes: options.attributes, links: options.links }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Runs `fn` in `traced`'s context (as is, with tracing off). */
export function inSpan<T>(traced: { context: TraceContext } | undefined, fn: () => T): T {
  return traced ? context.with(traced.context, fn) : fn();
}

/**
 * A child of the span active now, for one call to a service (a statement, a Redis
 * command): made only inside traced work, so a background poll that finds nothing to
 * do leaves no trace of its own. Returns the function that ends it, with the error if
 * the call failed; undefined when there is nothing to trace.
 */
export function startClientSpan(name: string, attributes: Attributes): ((error?: unknown) => void) | undefined {
  if (!enabled) return undefined;
  const active = context.active();
  if (!trace.getSpan(active)?.isRecording()) return undefined;
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, active);
  return (error) => {
    if (error !== undefined) failSpan(span, error);
    span.end();
  };
}

/** Runs `work` in a span of its own (when traced; `work` is given it), ended when `work` settles. */
export async function withSpan<T>(
  name: string,
  options: { attributes?: Attributes; links?: Link[] },
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  const traced = startSpan(name, { kind: SpanKind.INTERNAL, ...options });
  if (!traced) return work(undefined);
  try {
    return await context.with(traced.context, () => work(traced.span));
  } catch (error) {
    failSpan(traced.span, error);
    throw error;
  } finally {
    traced.span.end();
  }
}

/** Marks a span failed with the error's message (never its stack or the values that caused it). */
export function failSpan(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The W3C `traceparent` of the span active now, to write beside work another process picks up; null when untraced. */
export function activeTraceparent(): string | null {
  if (!enabled) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** A link to the span a `traceparent` names (written by `activeTraceparent`), if it is well formed. */
export function linkTo(traceparent: string | null | undefined): Link[] {
  if (!enabled || !traceparent) return [];
  const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
  return spanContext && trace.isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
}

/** Adds `traceparent` (and `tracestate`) of the active span to outgoing request headers. */
export function withTraceHeaders(headers: Record<string, string>): Record<string, string> {
  if (enabled) propagation.inject(context.active(), headers);
  return headers;
}

export { SpanKind, SpanStatusCode };
