/**
 * The trusted documents of `npm run codegen` (generated/persisted-documents.json,
 * the client preset's `persistedDocuments`: SHA-256 hex → document), by operation
 * name, for Apollo's persisted-query link and urql's persisted exchange: both send
 * an operation as `extensions.persistedQuery.sha256Hash` alone, which a server with
 * GRAPHQL_TRUSTED_DOCUMENTS=only requires. Operation names are unique across the
 * documents (codegen checks it), and every generated document of one operation
 * (graphql.ts, apollo-hooks.ts) comes from the same `.graphql` source, so its name
 * finds its hash whatever a library did to the document object.
 */
import { type DocumentNode, getOperationAST, parse } from "graphql";
import list from "../generated/persisted-documents.json" with { type: "json" };

const hashes = new Map(Object.entries(list).map(([hash, document]) => [getOperationAST(parse(document))?.name?.value, hash]));

/** The hash of `document`'s operation in the trusted documents, or undefined for an operation that is not there. */
export function trustedHash(document: DocumentNode): string | undefined {
  const name = getOperationAST(document)?.name?.value;
  return name === undefined ? undefined : hashes.get(name);
}
