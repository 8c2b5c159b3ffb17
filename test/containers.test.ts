/**
 * The container files, read as Docker would read them (no engine here):
 * docker-compose.yml parsed as YAML with its merge keys.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");

interface Service {
  environment?: Record<string, string>;
}
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, Service> };
const nodes = ["node1", "node2"].map((name) => compose.services[name]!);

describe("docker-compose.yml", () => {
  it("stops without a JWT_SECRET instead of passing a known one", () => {
    // ${VAR:?message}: compose refuses to start when VAR is unset or empty
    for (const node of nodes) expect(node.environment?.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?[^}]+\}$/);
  });
});
