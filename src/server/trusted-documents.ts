import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from './metrics.js';

/**
 * How the GraphQL-over-HTTP persisted documents appendix writes a SHA-256 document id,
 * and so how the client preset keys its manifest: `sha256:` and the hex digest of the text.
 */
const SHA256_ID_PREFIX = 'sha256:';
/** Distinct documents outside the manifest whose first sighting is remembered, so each is logged once. */
const LOGGED_KEPT = 1_000;
/** Ids and operation names are the client's: log lines carry at most this much of them. */
const LOGGED_CHARS = 100;
/** The name of a text's first operation, read off its first tokens for the log line (nothing is parsed). */
const FIRST_OPERATION_NAME = /^(?:[\s,\ufeff]|#[^\n\r]*)*(?:query|mutation|subscription)[\s,]+([_A-Za-z][_0-9A-Za-z]*)/;

export type TrustedDocumentsMode = 'off' | 'log' | 'enforce';
/** Where a request came in, for the metric and the log line. */
export type DocumentTransport = 'http' | 'graphql-ws' | 'sse';

/** The documents a server trusts: id → text, and the texts themselves. */
export interface Manifest {
  readonly byId: ReadonlyMap<string, string>;
  readonly texts: ReadonlySet<string>;
}

/** A GraphQL request as a transport received it: `query`, `operationName`, `variables`, `extensions`, `documentId`. */
export type DocumentRequest = Record<string, unknown>;

/** What the policy decided: the request to go on with (its document text in `query` when it named one), or a refusal. */
export type DocumentVerdict =
  | { kind: 'run'; request: DocumentRequest }
  | { kind: 'refused'; status: 200 | 400; error: AppError };

/**
 * Reads the manifest `npm run codegen` writes (src/__generated__/client/persisted-documents.json):
 * a JSON object from `sha256:<hex>` to the document's text. Throws, naming the file and the
 * entry, when it cannot be read, is not such an object, is empty, or an id is not the
 * SHA-256 of its text (the file was edited, or came from another generator).
 */
export function readManifest(file: string): Manifest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`TRUSTED_DOCUMENTS_FILE ${file} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  return parseManifest(text, file);
}

/** The manifest in `json`; `source` names it in errors. Throws as `readManifest` does. */
export function parseManifest(json: string, source: string): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`${source} is not JSON: expected an object from document id to document text`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${source}: expected an object from document id to document text, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  }
  const byId = new Map<string, string>();
  for (const [id, document] of Object.entries(parsed)) {
    if (typeof document !== 'string') throw new Error(`${source}: the document of ${id} is ${typeof document}, not its text`);
    const expected = documentIdOf(document);
    if (id !== expected) throw new Error(`${source}: ${id} is not the id of its text (sha256 of it is ${expected}); run npm run codegen`);
    byId.set(id, document);
  }
  if (byId.size === 0) throw new Error(`${source} holds no documents: nothing could run`);
  return { byId, texts: new Set(byId.values()) };
}

/** A document's id as the client preset computes it with `hashAlgorithm: 'sha256'`. */
export function documentIdOf(text: string): string {
  return SHA256_ID_PREFIX + createHash('sha256').update(text).digest('hex');
}

export interface TrustedDocumentsOptions {
  mode: 'log' | 'enforce';
  manifest: Manifest;
  metrics: Pick<Metrics, 'trustedDocumentCheck'>;
  logger: Logger;
}

/**
 * The trusted-documents policy, for every transport, before anything parses a document.
 * A request names a document of the manifest by its id — `documentId` (the GraphQL-over-HTTP
 * persisted documents proposal: `sha256:<hex>`) or Apollo's
 * `extensions.persistedQuery.sha256Hash` (the bare hex) — and runs the manifest's text,
 * whatever text came with it. A request whose `query` is exactly a manifest document's text
 * runs too: it is the same document. Anything else:
 * - `enforce` refuses it: an id the manifest lacks sent alone is PERSISTED_QUERY_NOT_FOUND
 *   (Apollo's code, message and HTTP 200: a persisted-query link then sends the text, once),
 *   any other text — a new APQ registration, that link's retry — TRUSTED_DOCUMENT_REQUIRED
 *   (HTTP 400, which no link retries);
 * - `log` lets it go on unchanged (Apollo's APQ cache may still answer an unknown hash).
 * Both count every request (`nightgraph_trusted_document_checks_total`) and log each
 * distinct document outside the manifest once. A request with neither an id nor a `query`
 * holds no document: it goes on, and whoever answers it refuses it (or, for a browser's
 * GET, answers the landing page).
 */
export function createTrustedDocuments({ mode, manifest, metrics, logger }: TrustedDocumentsOptions) {
  /** Requests this policy let through: a transport that checks early hands them to the shared gate, which need not count them again. */
  const passed = new WeakSet<object>();
  const logged = new Set<string>();

  const run = (request: DocumentRequest): DocumentVerdict => {
    passed.add(request);
    return { kind: 'run', request };
  };

  const outside = (transport: DocumentTransport, document: 'unknown_id' | 'free_text', request: DocumentRequest, key: string, refusal: () => DocumentVerdict) => {
    const action = mode === 'enforce' ? 'refused' : 'run';
    metrics.trustedDocumentCheck(transport, document, action);
    if (!logged.has(key)) {
      if (logged.size >= LOGGED_KEPT) logged.delete(logged.values().next().value!);
      logged.add(key);
      const named = typeof request.operationName === 'string' ? request.operationName : undefined;
      const operationName = (named ?? (typeof request.query === 'string' ? FIRST_OPERATION_NAME.exec(request.query)?.[1] : undefined))?.slice(0, LOGGED_CHARS);
      const line = { transport, document, operationName, ...(document === 'unknown_id' ? { documentId: key.slice(0, LOGGED_CHARS) } : { textId: key }) };
      if (mode === 'enforce') logger.info(line, 'refused a document that is not in the trusted-documents manifest');
      else logger.warn(line, 'ran a document that is not in the trusted-documents manifest');
    }
    return mode === 'enforce' ? refusal() : run(request);
  };

  return {
    mode,
    /** Decides one request; never parses its document, never throws. */
    check(request: DocumentRequest, transport: DocumentTransport): DocumentVerdict {
      if (passed.has(request)) return { kind: 'run', request };
      const id = namedId(request);
      // graphql-ws requires a `query` string: a client naming its document by id sends "".
      const query = typeof request.query === 'string' && request.query !== '' ? request.query : undefined;
      if (id !== undefined) {
        const text = manifest.byId.get(id);
        if (text !== undefined) {
          metrics.trustedDocumentCheck(transport, 'manifest', 'run');
          return run(withDocument(request, text));
        }
        if (query === undefined) return outside(transport, 'unknown_id', request, id, persistedQueryNotFound);
      }
      if (query === undefined) return run(request);
      if (manifest.texts.has(query)) {
        metrics.trustedDocumentCheck(transport, 'manifest', 'run');
        return run(request);
      }
      return outside(transport, 'free_text', request, documentIdOf(query), trustedDocumentRequired);
    },
  };
}

export type TrustedDocuments = ReturnType<typeof createTrustedDocuments>;

/** The id a request names its document by: `documentId`, else Apollo's persisted-query hash as a `sha256:` id. */
function namedId(request: DocumentRequest): string | undefined {
  if (request.documentId !== undefined) return typeof request.documentId === 'string' ? request.documentId : JSON.stringify(request.documentId);
  const extensions = request.extensions;
  if (typeof extensions !== 'object' || extensions === null) return undefined;
  const persisted = (extensions as { persistedQuery?: unknown }).persistedQuery;
  if (typeof persisted !== 'object' || persisted === null) return undefined;
  const hash = (persisted as { sha256Hash?: unknown }).sha256Hash;
  return typeof hash === 'string' ? SHA256_ID_PREFIX + hash : JSON.stringify(hash ?? null);
}

/**
 * The request with the manifest's text as its document and without the id that named it:
 * Apollo then neither looks the hash up in its APQ cache nor checks it against the text,
 * and a plain `{ query, operationName, variables }` body may take the known-operations path.
 */
function withDocument(request: DocumentRequest, text: string): DocumentRequest {
  const { documentId: _id, extensions, ...rest } = request;
  const resolved: DocumentRequest = { ...rest, query: text };
  if (typeof extensions === 'object' && extensions !== null && !Array.isArray(extensions)) {
    const { persistedQuery: _persisted, ...others } = extensions as Record<string, unknown>;
    if (Object.keys(others).length > 0) resolved.extensions = others;
  } else if (extensions !== undefined) {
    resolved.extensions = extensions;
  }
  return resolved;
}

const persistedQueryNotFound = (): DocumentVerdict => ({
  kind: 'refused',
  status: 200,
  error: new AppError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound'),
});

const trustedDocumentRequired = (): DocumentVerdict => ({
  kind: 'refused',
  status: 400,
  error: new AppError(
    ErrorCode.TRUSTED_DOCUMENT_REQUIRED,
    'This server runs only its trusted documents: name one by its id (extensions.persistedQuery.sha256Hash or documentId) instead of sending a document',
  ),
});
