/**
 * The container files, read as Docker would read them (no engine here):
 * docker-compose.yml parsed as YAML with its merge keys, the Dockerfile with
 * dockerfile-ast; and the image's healthcheck command run against a real server.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { useTestServer } from "./helpers/server.js";

const run = promisify(execFile);
const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");

interface Service {
  restart?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, Service> };
const nodeNames = ["node1", "node2"];
const nodes = nodeNames.map((name) => compose.services[name]!);

const dockerfile = DockerfileParser.parse(read("Dockerfile"));
/** In the runtime stage: after the last FROM. */
const inRuntime = (i: Instruction) => i.getRange().start.line > dockerfile.getFROMs().at(-1)!.getRange().start.line;
const runtime = dockerfile.getInstructions().filter(inRuntime);
const at = (keyword: string) => runtime.findIndex((i) => i.getKeyword() === keyword);
const args = (i: Instruction | undefined) => i?.getArgumentsContent() ?? "";
/** The runtime stage's ENV variables and its healthcheck. */
const env = new Map(
  dockerfile
    .getENVs()
    .filter(inRuntime)
    .flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue()] as const)),
);
const healthcheck = dockerfile.getHEALTHCHECKs().filter(inRuntime)[0]!;

describe("docker-compose.yml", () => {
  it("stops without a JWT_SECRET instead of passing a known one", () => {
    // ${VAR:?message}: compose refuses to start when VAR is unset or empty
    for (const node of nodes) expect(node.environment?.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?[^}]+\}$/);
  });

  it("restarts every service, and starts the nodes once PostgreSQL and Redis pass their healthchecks", () => {
    for (const [name, service] of Object.entries(compose.services)) expect([name, service.restart]).toEqual([name, "unless-stopped"]);
    expect(compose.services.redis!.healthcheck?.test.join(" ")).toMatch(/redis-cli .*ping/);
    for (const node of nodes)
      expect(node.depends_on).toEqual({ postgres: { condition: "service_healthy" }, redis: { condition: "service_healthy" } });
  });

  it("probes PostgreSQL over TCP, which the image's init-time temporary server does not listen on", () => {
    const test = compose.services.postgres!.healthcheck!.test;
    expect(test.slice(0, 2)).toEqual(["CMD", "pg_isready"]);
    expect(test[test.indexOf("-h") + 1]).toBe("127.0.0.1");
  });

  it("gives the nodes and nginx's upstream one configurable PORT", () => {
    const port = "${PORT:-4000}";
    for (const node of nodes) expect(node.environment?.PORT).toBe(port);
    const nginx = compose.services.nginx!;
    expect(nginx.environment?.PORT).toBe(port);
    // the nginx image renders /etc/nginx/templates/*.template into conf.d with envsubst
    const [source, target] = nginx.volumes!.find((v) => v.includes("/etc/nginx/templates/"))!.split(":");
    expect(target).toBe("/etc/nginx/templates/default.conf.template");
    const upstream = /upstream chat \{([\s\S]*?)\n\}/.exec(read(source!.replace(/^\.\//, "")))![1]!;
    expect([...upstream.matchAll(/server ([^;]+);/g)].map((m) => m[1])).toEqual(nodeNames.map((name) => `${name}:\${PORT}`));
  });

  it("mounts the uploads volume where the image keeps them", () => {
    for (const node of nodes) expect(node.volumes).toContain(`attachments:${env.get("ATTACHMENTS_DIR")}`);
  });
});

describe("Dockerfile (runtime stage)", () => {
  it("makes what the node writes the node user's before switching to it", () => {
    expect(env.get("ATTACHMENTS_DIR")).toBe("/data/attachments");
    // uploads, and scripts/prisma.mjs's schema copies for `prisma migrate deploy` (under WORKDIR /app)
    for (const dir of [env.get("ATTACHMENTS_DIR")!, "node_modules/.cache/prisma-migrate"]) {
      const made = runtime.findIndex(
        (i) =>
          i.getKeyword() === "RUN" &&
          /^mkdir -p [^&]*/.exec(args(i))?.[0].split(" ").includes(dir) &&
          new RegExp(`chown node:node [^&]*${dir}`).test(args(i)),
      );
      expect(made, `a RUN making ${dir} node's`).toBeGreaterThanOrEqual(0);
      expect(made, `${dir} made node's before USER`).toBeLessThan(at("USER"));
    }
    expect(args(runtime[at("USER")])).toBe("node");
  });

  it("listens on PORT, 4000 unless the build or the run says otherwise, and exposes it", () => {
    const [arg] = dockerfile.getARGs().filter(inRuntime);
    expect([arg?.getProperty()?.getName(), arg?.getProperty()?.getValue()]).toEqual(["PORT", "4000"]);
    expect(env.get("PORT")).toBe("${PORT}");
    expect(args(runtime[at("EXPOSE")])).toBe("${PORT}");
  });

  it("gives the healthcheck a start period for the first start's migrations", () => {
    const flags = Object.fromEntries(healthcheck.getFlags().map((f) => [f.getName(), f.getValue()]));
    expect(flags).toMatchObject({ "start-period": expect.stringMatching(/^[1-9]\d*s$/), timeout: "3s" });
  });
});

describe("the image's healthcheck command", () => {
  const { server } = useTestServer([]);
  let port: string;
  beforeAll(async () => {
    port = new URL(server.url).port;
  });

  /** Runs the HEALTHCHECK's exec-form command (`CMD ["node", …]`) as Docker would, with PORT set; resolves its exit code. */
  async function probe(): Promise<number> {
    const [program, ...rest] = JSON.parse(args(healthcheck).replace(/^CMD\s+/, "")) as string[];
    expect(program).toBe("node");
    return run(process.execPath, rest, { env: { PATH: process.env.PATH, PORT: port } }).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
  }

  it("asks /ready on PORT: 0 while it answers 200, 1 once it answers 503", async () => {
    expect(await probe()).toBe(0);
    await server.dropDatabase();
    expect(await probe()).toBe(1);
  });
});
