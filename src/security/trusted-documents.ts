import { usePersistedOperations } from "@graphql-yoga/plugin-persisted-operations";
import { createGraphQLError, type GraphQLParams, type OnParamsEventPayload, type Plugin } from "graphql-yoga";
import type { Config } from "../config.js";

/**
 * The errors of a trusted-documents refusal, by `extensions.code`, each made anew
 * (a GraphQLError keeps its `extensions` object, which Yoga and ws-server.ts change). The two messages
 * that Apollo Client's persisted-query link and urql's persisted exchange recognise
 * are kept as they expect them: on `PersistedQueryNotFound` they send the same
 * operation again with its text, on `PersistedQueryNotSupported` they stop sending
 * hashes to this server.
 * - PERSISTED_QUERY_NOT_FOUND: a hash that is not in the list (`allow`, `only`);
 * - PERSISTED_QUERY_NOT_SUPPORTED: a hash alone, to a server with the list off;
 * - PERSISTED_QUERY_ONLY: a document's text, or neither text nor hash, under `only`;
 * - BAD_REQUEST (HTTP 400): neither text nor hash under `off` or `allow`, as Yoga answers it.
 */
const ERRORS = {
  notFound: () => createGraphQLError("PersistedQueryNotFound", { extensions: { code: "PERSISTED_QUERY_NOT_FOUND" } }),
  notSupported: () => createGraphQLError("PersistedQueryNotSupported", { extensions: { code: "PERSISTED_QUERY_NOT_SUPPORTED" } }),
  only: () =>
    createGraphQLError(
      "Only trusted documents run on this server: send the hash of a known document as extensions.persistedQuery.sha256Hash, without its text",
      {
        extensions: { code: "PERSISTED_QUERY_ONLY" },
      },
    ),
  // what Yoga answers a request without a query, when no hash came either
  missing: () => createGraphQLError("Must provide query string.", { extensions: { code: "BAD_REQUEST", http: { status: 400 } } }),
};

/** What {@link trustedDocuments} returns: the same rule for both bindings. */
export interface TrustedDocuments {
  /** For Yoga's plugin list: GraphQL over HTTP and SSE (Yoga's `onParams`). */
  plugin: Plugin;
  /**
   * For GraphQL over WebSocket (ws-server.ts), which Yoga's `onParams` never sees:
   * the text to parse for a graphql-ws `subscribe` payload (its `query` is a string,
   * empty when only the hash is sent).
   * @throws GraphQLError with one of the codes of {@link ERRORS} when the rule refuses it.
   */
  queryOf(params: { query?: string | null; extensions?: Readonly<Record<string, unknown>> | null }): Promise<string>;
}

/**
 * Trusted documents (persisted operations) by GRAPHQL_TRUSTED_DOCUMENTS, through
 * @graphql-yoga/plugin-persisted-operations. A client names a document by
 * `extensions.persistedQuery: { version: 1, sha256Hash }` (Apollo's persisted-query
 * protocol), with or instead of its `query` text:
 * - "off": the text runs as always; a hash alone gets PersistedQueryNotSupported,
 *   so the clients send the text instead (and no more hashes);
 * - "allow": a text runs, and a hash alone runs the document of
 *   GRAPHQL_TRUSTED_DOCUMENTS_FILE it names (PersistedQueryNotFound when unknown:
 *   the clients send the text);
 * - "only": only a known hash runs; any text is refused (PERSISTED_QUERY_ONLY),
 *   with or without a hash, before it is parsed.
 * The documents found are parsed, validated (limits included) and run like any other.
 */
export function trustedDocuments(config: Pick<Config, "GRAPHQL_TRUSTED_DOCUMENTS" | "GRAPHQL_TRUSTED_DOCUMENTS_FILE">): TrustedDocuments {
  const mode = config.GRAPHQL_TRUSTED_DOCUMENTS;
  const documents = mode === "off" ? new Map<string, string>() : config.GRAPHQL_TRUSTED_DOCUMENTS_FILE!;
  const plugin = usePersistedOperations({
    getPersistedOperation: (hash) => documents.get(hash) ?? null,
    allowArbitraryOperations: mode !== "only",
    customErrors: {
      notFound: mode === "off" ? ERRORS.notSupported : ERRORS.notFound,
      persistedQueryOnly: ERRORS.only,
      keyNotFound: mode === "only" ? ERRORS.only : ERRORS.missing,
    },
  }) as Plugin;
  const onParams = plugin.onParams!;

  return {
    plugin,
    async queryOf(params) {
      let query = params.query ?? "";
      // the plugin's own hook: it reads only `params`, calls `setParams` with the document found and keys
      // its per-operation state by `context` (@graphql-yoga/plugin-persisted-operations 3.24)
      const payload = {
        params: { query: params.query, extensions: params.extensions },
        setParams: (found: GraphQLParams) => (query = found.query ?? ""),
        context: {},
      };
      await onParams(payload as unknown as OnParamsEventPayload);
      return query;
    },
  };
}
