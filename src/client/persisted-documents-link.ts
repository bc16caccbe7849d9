import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { Kind, type DocumentNode } from 'graphql';

/** How the client preset writes a SHA-256 document id: `sha256:` and the hex digest Apollo's protocol sends. */
const SHA256_ID_PREFIX = 'sha256:';

/**
 * Apollo Client's persisted-queries link for the generated documents
 * (`src/__generated__/client/graphql.ts`): every operation goes out as its document's hash
 * in `extensions.persistedQuery.sha256Hash`, without its text (over HTTP; graphql-ws
 * sends the text too, and the server runs the manifest's document for the hash). The hash
 * is the one the client preset embedded in the document (`__meta__.hash`), so it is the
 * manifest's id whatever Apollo Client's cache adds to the document it sends.
 *
 * Put it before the terminating link (HttpLink, GraphQLWsLink). A document that is not a
 * generated one fails its operation here, before any request: a server that enforces
 * trusted documents would refuse it. If a server answers PERSISTED_QUERY_NOT_FOUND (it runs
 * an older manifest), the link sends the text once; such a server refuses that too under
 * TRUSTED_DOCUMENTS=enforce, and runs it under `log` or `off`.
 */
export function persistedDocumentsLink(options: { useGETForHashedQueries?: boolean } = {}): PersistedQueryLink {
  return new PersistedQueryLink({ generateHash: sha256HashOf, ...options });
}

/** The hex SHA-256 the client preset embedded in a generated document; throws for any other document. */
export function sha256HashOf(document: DocumentNode): string {
  const id = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof id === 'string' && id.startsWith(SHA256_ID_PREFIX)) return id.slice(SHA256_ID_PREFIX.length);
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const name = operation?.kind === Kind.OPERATION_DEFINITION ? (operation.name?.value ?? 'an anonymous operation') : 'a document without an operation';
  throw new Error(`${name} is not a generated document (no sha256 __meta__.hash): add it to src/client/operations/ and run npm run codegen`);
}
