import { createHash } from "node:crypto";
import type { CodegenConfig } from "@graphql-codegen/cli";
import { addTypenameSelectionDocumentTransform } from "@graphql-codegen/client-preset";

/**
 * GraphQL Code Generator: reads the committed schema.graphql (printed from the
 * code by `npm run schema:print`) and the example operations, and writes, into
 * examples/generated/ (gitignored; `npm run codegen`, also before tests and tsc):
 * - graphql.ts, gql.ts: typed documents (client preset), usable by Apollo Client and urql;
 * - persisted-documents.json: the trusted documents, `{ "<sha256 hex of the document>": "<document>" }`,
 *   which the example clients send by hash (examples/clients/trusted-documents.ts) and the
 *   server accepts with GRAPHQL_TRUSTED_DOCUMENTS=allow|only (src/security/trusted-documents.ts);
 * - apollo-hooks.ts: React hooks for Apollo Client 4 (`useRoomHistoryQuery`, …; `@apollo/client/react`);
 * - urql-hooks.ts: React hooks for urql (`useRoomHistoryQuery`, …; the `urql` package),
 *   on the client preset's documents and types.
 */
/**
 * `__typename` in every selection but a subscription's root, in every output: the
 * clients' caches need it, and a server running a trusted document by its hash
 * returns only what that document selects (the clients cannot add it then).
 */
const documentTransforms = [addTypenameSelectionDocumentTransform];

const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["examples/**/*.graphql"], // examples/operations.graphql, clients/*.graphql, react/*.graphql
  // `.js` in the generated relative imports, as NodeNext wants (tsc checks examples/)
  importExtension: ".js",
  generates: {
    "examples/generated/": {
      preset: "client",
      documentTransforms,
      // plain operation types (no fragment masking), so hooks read fragment fields directly
      presetConfig: {
        fragmentMasking: false,
        // plain hex SHA-256, as `extensions.persistedQuery.sha256Hash` means (the preset's default prefixes "sha256:")
        persistedDocuments: { hashAlgorithm: (document: string) => createHash("sha256").update(document).digest("hex") },
      },
      config: { scalars: { DateTime: "string" }, useTypeImports: true },
    },
    // typescript-react-apollo 5 writes Apollo Client 3's hook types: they resolve
    // against Apollo 4's deprecated aliases in @apollo/client/react, but its
    // suspense-hook overloads do not type-check there, and its external document
    // mode cannot import the client preset's documents (graphql-code-generator-community#1177).
    // So this file carries its own documents and types and is not type-checked
    // inside; examples/react/ApolloRoom.tsx checks the hooks it uses at their call sites.
    "examples/generated/apollo-hooks.ts": {
      documentTransforms,
      plugins: [{ add: { content: "// @ts-nocheck" } }, "typescript-operations", "typescript-react-apollo"],
      config: {
        scalars: { DateTime: "string" },
        useTypeImports: true,
        withHooks: true,
        withMutationFn: false,
        withMutationOptionsType: false,
        apolloReactCommonImportFrom: "@apollo/client/react",
        apolloReactHooksImportFrom: "@apollo/client/react",
      },
    },
    "examples/generated/urql-hooks.ts": {
      documentTransforms,
      plugins: ["typescript-urql"],
      config: {
        documentMode: "external",
        importDocumentNodeExternallyFrom: "./graphql.js",
        importOperationTypesFrom: "Operations",
        useTypeImports: true,
        withHooks: true,
        urqlImportFrom: "urql",
      },
    },
  },
};

export default config;
