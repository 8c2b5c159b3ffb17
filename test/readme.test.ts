import { readFileSync } from "node:fs";
import { type GraphQLObjectType, Kind, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { schema } from "../src/schema/index.js";

/**
 * The README's API section: every example is a valid operation against the
 * schema, and every query, mutation and subscription has an example.
 */
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
/** Each ```graphql block of the README, as one document. */
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe("README API examples", () => {
  it.each(blocks)("are valid: %s", (block) => {
    expect(validate(schema, parse(block)).map((e) => e.message)).toEqual([]);
  });

  it("cover every root field", () => {
    const used = new Set(
      blocks.flatMap((block) =>
        parse(block).definitions.flatMap((d) =>
          d.kind === Kind.OPERATION_DEFINITION ? d.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? `${d.operation}.${s.name.value}` : "")) : [],
        ),
      ),
    );
    const roots: [string, GraphQLObjectType | null | undefined][] = [
      ["query", schema.getQueryType()],
      ["mutation", schema.getMutationType()],
      ["subscription", schema.getSubscriptionType()],
    ];
    const missing = roots.flatMap(([op, type]) => Object.keys(type?.getFields() ?? {}).map((f) => `${op}.${f}`)).filter((f) => !used.has(f));
    expect(missing).toEqual([]);
  });
});
