/**
 * Prints the GraphQL schema built from the code to schema.graphql (the file
 * codegen and clients read). With `--check` it writes nothing and exits 1 when
 * the committed file differs from the code: CI's drift check.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "../src/schema/index.js";

const file = new URL("../schema.graphql", import.meta.url);
const printed = `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(file, "utf8");
  } catch {}
  if (committed !== printed) {
    console.error("schema.graphql is out of date with the code: run `npm run schema:print` and commit it.");
    process.exit(1);
  }
  console.log("schema.graphql matches the code.");
} else {
  writeFileSync(file, printed);
  console.log("wrote schema.graphql");
}
