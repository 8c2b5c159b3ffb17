import { readFileSync } from "node:fs";
import { type GraphQLObjectType, Kind, parse, validate, visit } from "graphql";
import { describe, expect, it } from "vitest";
import { DEMO_PASSWORD, DEMO_PEOPLE } from "../scripts/demo.js";
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
          d.kind === Kind.OPERATION_DEFINITION
            ? d.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? `${d.operation}.${s.name.value}` : ""))
            : [],
        ),
      ),
    );
    const roots: [string, GraphQLObjectType | null | undefined][] = [
      ["query", schema.getQueryType()],
      ["mutation", schema.getMutationType()],
      ["subscription", schema.getSubscriptionType()],
    ];
    const missing = roots
      .flatMap(([op, type]) => Object.keys(type?.getFields() ?? {}).map((f) => `${op}.${f}`))
      .filter((f) => !used.has(f));
    expect(missing).toEqual([]);
  });
});

describe("README and the seed's demo (scripts/demo.ts)", () => {
  const demoUsernames = DEMO_PEOPLE.map((p) => p.username);

  it("register no demo username or email in the examples, so following them and seeding do not collide", () => {
    const registered: string[] = [];
    for (const block of blocks) {
      visit(parse(block), {
        Field(field) {
          if (field.name.value !== "register") return;
          visit(field, {
            ObjectField: (f) =>
              void (["username", "email"].includes(f.name.value) && f.value.kind === Kind.STRING && registered.push(f.value.value)),
          });
        },
      });
    }
    expect(registered.length).toBeGreaterThan(0);
    const demo = demoUsernames.flatMap((u) => [u, `${u}@example.com`]);
    expect(registered.filter((value) => demo.includes(value.toLowerCase()))).toEqual([]);
  });

  it("document the demo's own logins", () => {
    const logins = [
      ...readme.matchAll(/log in as `(\w+)` \(password `([^`]+)`\)/g),
      ...readme.matchAll(/login\(\{ username: "(\w+)", password: "([^"]+)" \}\)/g),
    ].map((m) => [m[1], m[2]]);
    expect(logins.length).toBeGreaterThan(0);
    for (const [username, password] of logins) expect([username, password]).toEqual([expect.toBeOneOf(demoUsernames), DEMO_PASSWORD]);
    const listed = /users ([\w, ]+) \(password `([^`]+)`\)/.exec(readme)!;
    expect([listed[1]!.split(/, | and /), listed[2]]).toEqual([demoUsernames, DEMO_PASSWORD]);
  });
});
