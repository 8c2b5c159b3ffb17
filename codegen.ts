import type { CodegenConfig } from "@graphql-codegen/cli";

/**
 * GraphQL Code Generator: reads the committed schema.graphql (printed from the
 * code by `npm run schema:print`) and the example operations, and writes typed
 * documents (client preset) usable by Apollo Client and urql. `npm run codegen`.
 */
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["examples/**/*.graphql"], // examples/operations.graphql and examples/clients/*.graphql
  // `.js` in the generated relative imports, as NodeNext wants (tsc checks examples/)
  importExtension: ".js",
  generates: {
    "examples/generated/": {
      preset: "client",
      config: { scalars: { DateTime: "string" }, useTypeImports: true },
    },
  },
};

export default config;
