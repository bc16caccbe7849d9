import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { sendJson, startHttpServer, type LocalHttpServer } from '../support/http.js';
import { subscribe } from '../support/ws.js';
import { realServers } from '../support/app.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import type { ServerProcess } from '../support/process.js';
import { processStorage, type ProcessStorage } from '../faults/storage.js';
import { until } from '../faults/harness.js';

const TABLES = 'query NightTables($id: ID!) { night(id: $id) { id tables { table { label } } } }';
const CANCEL = 'mutation CancelNight($id: ID!, $reason: String!) { cancelNight(id: $id, reason: $reason) { id } }';
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

/** A W3C trace context a gateway in front of Nightgraph would send. */
function callerTrace() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

/**
 * Black-box: the server runs as its own process with the standard OTEL_* variables
 * pointing at a local OTLP/HTTP receiver, as it would with a collector.
 */
describe('traces (OpenTelemetry over OTLP/HTTP)', () => {
  let storage: ProcessStorage;
  let receiver: OtlpReceiver;
  let hooks: LocalHttpServer;
  let server: ServerProcess;
  let ids: { clubId: string; nightId: string; guest: string };

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    hooks = await startHttpServer((_request, res) => sendJson(res, 200, { ok: true }));
    storage = await processStorage();
    ids = await storage.use(async (handle) => {
      const fx = fixtures(handle.db);
      const { clubId, nightId, tableIds } = await fx.nightWithTables(3);
      const guest = await fx.user();
      await fx.booking({ nightId, tableId: tableIds[0]!, userId: guest.id, status: 'confirmed' });
      return { clubId, nightId, guest: guest.subject };
    });
    server = await storage.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SERVICE_NAME: 'nightgraph-traces-test',
      // The batch processor's standard knob: export within 100 ms instead of 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OUTBOX_POLL_MS: '50',
    });
  });
  afterAll(async () => {
    await storage?.remove();
    await hooks?.close();
    await receiver?.close();
  });

  const spansOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
  const childrenOf = (span: ReceivedSpan) => receiver.spans.filter((s) => s.parentSpanId === span.spanId);
  async function operationSpan(traceId: string, parentSpanId: string): Promise<ReceivedSpan> {
    await until('the operation span to be exported', () => spansOf(traceId).some((s) => s.parentSpanId === parentSpanId && s.kind === SERVER));
    return spansOf(traceId).find((s) => s.parentSpanId === parentSpanId && s.kind === SERVER)!;
  }

  it("makes each HTTP operation one span in the caller's trace, named for the operation, with its outcome, its statement count and a child span per statement", async () => {
    // The second request is answered by the known-operations path, not Apollo's pipeline: both are traced alike.
    const manager = await storage.token(`manager-${ids.clubId}`, ['manager'], [ids.clubId]);
    for (const round of [1, 2]) {
      const caller = callerTrace();
      const response = await graphql(server.url, TABLES, { token: manager, variables: { id: ids.nightId }, headers: { traceparent: caller.header } });
      expect(response.errors, `round ${round}`).toBeUndefined();
      const statements = response.extensions?.sql?.statements;
      expect(statements).toBeGreaterThan(0);

      const operation = await operationSpan(caller.traceId, caller.spanId);
      expect(operation).toMatchObject({
        name: 'query NightTables',
        service: 'nightgraph-traces-test',
        attributes: {
          'graphql.operation.name': 'NightTables',
          'graphql.operation.type': 'query',
          'nightgraph.outcome': 'ok',
          'nightgraph.sql.statements': statements,
          'http.response.status_code': 200,
        },
      });
      expect(operation.status).not.toBe(ERROR);
      await until('every statement span to be exported', () => childrenOf(operation).filter((s) => s.attributes['db.system.name'] === 'postgresql').length === statements);
      for (const statement of childrenOf(operation).filter((s) => s.attributes['db.system.name'] === 'postgresql')) {
        expect(statement.kind).toBe(CLIENT);
        expect(statement.name).toMatch(/^[A-Z]+$/);
        expect(String(statement.attributes['db.query.text'])).toMatch(/\$1/);
      }
      // Parameters never leave: the night's id was a parameter of every statement that read it.
      for (const span of spansOf(caller.traceId)) expect(JSON.stringify(span.attributes)).not.toContain(ids.nightId);
    }
  });

  it('marks an operation whose answer carries errors as failed, and names a document that never resolved generically', async () => {
    const anonymous = callerTrace();
    // The floor plan is for the club's staff: without a token the answer carries UNAUTHENTICATED.
    const refusedField = await graphql(server.url, TABLES, { variables: { id: ids.nightId }, headers: { traceparent: anonymous.header } });
    expect(refusedField.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await operationSpan(anonymous.traceId, anonymous.spanId)).toMatchObject({ name: 'query NightTables', status: ERROR, attributes: { 'nightgraph.outcome': 'error' } });

    const garbage = callerTrace();
    const invalid = await graphql(server.url, '{ nosuchfield }', { headers: { traceparent: garbage.header } });
    expect(invalid.status).toBe(400);
    const refused = await operationSpan(garbage.traceId, garbage.spanId);
    expect(refused.name).toBe('GraphQL Operation');
    expect(refused.attributes['graphql.operation.name']).toBeUndefined();
  });

  it('makes setting up a subscription a span of its own, with the statements its admission and first snapshot sent', async () => {
    const live = await subscribe(server.url, 'subscription LiveFloor($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }', { nightId: ids.nightId });
    try {
      await until('the first snapshot', () => live.results.length > 0);
      await until('the subscription span', () => receiver.spans.some((s) => s.name === 'subscription LiveFloor'));
      const span = receiver.spans.find((s) => s.name === 'subscription LiveFloor')!;
      expect(span).toMatchObject({ kind: SERVER, attributes: { 'graphql.operation.type': 'subscription', 'nightgraph.outcome': 'ok' } });
      expect(span.attributes['nightgraph.sql.statements']).toBe(childrenOf(span).filter((s) => s.attributes['db.system.name'] === 'postgresql').length);
    } finally {
      await live.close();
    }
  });

  it("carries the trace across the outbox: the delivery links to the mutation that wrote the row, and the webhook receives the delivery's traceparent", async () => {
    const guestToken = await storage.token(ids.guest);
    const registered = await graphql(server.url, 'mutation($url: String!) { registerWebhook(input: { url: $url }) { webhook { id } } }', {
      token: guestToken,
      variables: { url: `${hooks.origin}/guest` },
    });
    expect(registered.errors).toBeUndefined();

    const caller = callerTrace();
    const manager = await storage.token(`manager-${ids.clubId}`, ['manager'], [ids.clubId]);
    const cancelled = await graphql(server.url, CANCEL, { token: manager, variables: { id: ids.nightId, reason: 'flooded' }, headers: { traceparent: caller.header } });
    expect(cancelled.errors).toBeUndefined();
    const mutation = await operationSpan(caller.traceId, caller.spanId);
    expect(mutation).toMatchObject({ name: 'mutation CancelNight', attributes: { 'graphql.operation.type': 'mutation', 'nightgraph.outcome': 'ok' } });
    if (realServers) {
      // The commit is announced through Redis: its calls are spans of the mutation too.
      await until('the Redis spans of the mutation', () => spansOf(caller.traceId).some((s) => s.attributes['db.system.name'] === 'redis'));
      const redis = spansOf(caller.traceId).filter((s) => s.attributes['db.system.name'] === 'redis');
      for (const call of redis) {
        expect(call.kind).toBe(CLIENT);
        expect(call.name).toBe(call.attributes['db.operation.name']);
      }
    }

    await until('the webhook delivery', () => hooks.requests.some((r) => r.path === '/guest'));
    const traceparent = String(hooks.requests.find((r) => r.path === '/guest')!.headers.traceparent);
    const [, deliveryTrace, deliverySpanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent) ?? [];
    expect(deliveryTrace, traceparent).toBeDefined();
    // Delivered in a trace of its own (the worker's), not the mutation's: the link joins them.
    expect(deliveryTrace).not.toBe(caller.traceId);
    await until('the delivery span', () => receiver.spans.some((s) => s.spanId === deliverySpanId));
    const delivery = receiver.spans.find((s) => s.spanId === deliverySpanId)!;
    expect(delivery).toMatchObject({ name: 'outbox deliver notification', attributes: { 'messaging.destination.name': 'notification', 'nightgraph.outbox.attempt': 1 } });
    expect(delivery.links).toEqual([{ traceId: caller.traceId, spanId: mutation.spanId }]);
    // The batch span ends after the deliveries in it, so it may reach the receiver in a later export.
    await until('the delivery batch span', () => receiver.spans.some((s) => s.spanId === delivery.parentSpanId));
    const batch = receiver.spans.find((s) => s.spanId === delivery.parentSpanId)!;
    expect(batch.name).toBe('outbox deliver batch');
  });

  it('exports nothing but OTLP/HTTP JSON of traces', () => {
    expect(receiver.rejected).toBe(0);
    expect(receiver.spans.length).toBeGreaterThan(0);
  });
});
