import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, specifiedRules, validate, type DocumentNode } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import * as generated from '../../src/__generated__/client/graphql.js';
import { sha256HashOf } from '../../src/client/persisted-documents-link.js';
import { loadConfig } from '../../src/config.js';
import { limitRules } from '../../src/graphql/limits.js';
import { buildSchema } from '../../src/graphql/schema.js';
import { createLogger } from '../../src/platform/logger.js';
import { createMetrics } from '../../src/server/metrics.js';
import { createTrustedDocuments, documentIdOf, parseManifest, readManifest } from '../../src/server/trusted-documents.js';

const config = loadConfig({});
const operationsDir = fileURLToPath(new URL('../../src/client/operations/', import.meta.url));
const manifest = readManifest(config.trustedDocuments.file);

/** The operations the .graphql files declare, by name. */
function declaredOperations(): string[] {
  return readdirSync(operationsDir)
    .filter((file) => file.endsWith('.graphql'))
    .flatMap((file) => parse(readFileSync(join(operationsDir, file), 'utf8')).definitions)
    .flatMap((definition) => (definition.kind === Kind.OPERATION_DEFINITION ? [definition.name!.value] : []));
}

const operationNameOf = (text: string) =>
  parse(text).definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION ? [d.name?.value] : []));

describe('the generated persisted-documents manifest', () => {
  it('holds one document per operation of src/client/operations, each under the sha256 of its text', () => {
    expect([...manifest.byId.values()].flatMap(operationNameOf).sort()).toEqual(declaredOperations().sort());
    for (const [id, text] of manifest.byId) expect(id, text).toBe(documentIdOf(text));
  });

  it('holds documents that are valid against the schema and within the query limits', () => {
    const schema = buildSchema();
    const rules = [...specifiedRules, ...limitRules(config.limits)];
    for (const text of manifest.byId.values()) {
      expect(validate(schema, parse(text, { maxTokens: config.limits.tokens }), rules).map((e) => e.message), text).toEqual([]);
    }
  });

  it('is what the typed documents send: each generated operation’s embedded hash is a manifest id', () => {
    const documents = Object.entries(generated).filter(([name]) => name.endsWith('Document')) as [string, DocumentNode][];
    expect(documents.map(([name]) => name.replace(/Document$/, '')).sort()).toEqual(declaredOperations().sort());
    for (const [name, document] of documents) expect(manifest.byId.has(`sha256:${sha256HashOf(document)}`), name).toBe(true);
  });
});

describe('reading a manifest', () => {
  const text = 'query A { __typename }';

  it('refuses an entry whose id is not the sha256 of its text, naming both', () => {
    expect(() => parseManifest(JSON.stringify({ [documentIdOf(text)]: `${text} ` }), 'edited.json')).toThrow(
      new RegExp(`edited.json: ${documentIdOf(text)} is not the id of its text \\(sha256 of it is ${documentIdOf(`${text} `)}\\)`),
    );
  });

  it('refuses what is not an object of texts, and an empty one', () => {
    expect(() => parseManifest('[]', 'list.json')).toThrow(/list.json: expected an object from document id to document text, got an array/);
    expect(() => parseManifest(JSON.stringify({ [documentIdOf(text)]: { body: text } }), 'apollo.json')).toThrow(/is object, not its text/);
    expect(() => parseManifest('{}', 'empty.json')).toThrow(/empty.json holds no documents/);
    expect(() => parseManifest('{', 'broken.json')).toThrow(/broken.json is not JSON/);
  });

  it('names the file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightgraph-manifest-'));
    try {
      expect(() => readManifest(join(dir, 'missing.json'))).toThrow(/TRUSTED_DOCUMENTS_FILE .*missing.json cannot be read/);
      writeFileSync(join(dir, 'one.json'), JSON.stringify({ [documentIdOf(text)]: text }));
      expect([...readManifest(join(dir, 'one.json')).byId]).toEqual([[documentIdOf(text), text]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the policy', () => {
  const text = 'query A { __typename }';
  const hex = documentIdOf(text).slice('sha256:'.length);
  const metrics = createMetrics();
  afterAll(() => metrics.close());
  const policy = (mode: 'log' | 'enforce') =>
    createTrustedDocuments({ mode, manifest: parseManifest(JSON.stringify({ [documentIdOf(text)]: text }), 'test'), metrics, logger: createLogger('silent') });

  it("replaces the id with the manifest's text and keeps the request's other extensions (graphql-sse's operationId, a client's name)", () => {
    const verdict = policy('enforce').check(
      { query: '', operationName: 'A', variables: { x: 1 }, extensions: { persistedQuery: { version: 1, sha256Hash: hex }, operationId: 'op-1' } },
      'sse',
    );
    expect(verdict).toEqual({ kind: 'run', request: { query: text, operationName: 'A', variables: { x: 1 }, extensions: { operationId: 'op-1' } } });
    expect(policy('enforce').check({ documentId: documentIdOf(text) }, 'http')).toEqual({ kind: 'run', request: { query: text } });
  });

  it('runs the manifest’s text, not the one sent, when the id names a manifest document: the id decides', () => {
    const verdict = policy('enforce').check({ query: '{ somethingElse }', extensions: { persistedQuery: { version: 1, sha256Hash: hex } } }, 'http');
    expect(verdict).toEqual({ kind: 'run', request: { query: text } });
  });

  it('lets a request through once: the shared gate does not count again what a transport already passed', async () => {
    const trusted = policy('log');
    const first = trusted.check({ query: '{ other }' }, 'graphql-ws');
    expect(first.kind === 'run' && trusted.check(first.request, 'graphql-ws')).toEqual(first);
    const exposition = await metrics.registry.getSingleMetricAsString('nightgraph_trusted_document_checks_total');
    expect(exposition).toMatch(/^nightgraph_trusted_document_checks_total\{transport="graphql-ws",document="free_text",action="run"\} 1$/m);
  });
});
