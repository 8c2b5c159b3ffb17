import { readFileSync } from "node:fs";
import { DockerfileParser } from "dockerfile-ast";
import { intersects, satisfies } from "semver";
import { describe, expect, it } from "vitest";

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");
/** package.json `engines.node`: the Node.js versions the project supports. */
const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;

/** The supported Node.js (package.json `engines`) is the one that runs the tests, CI and the image. */
describe("Node.js runtime", () => {
  it("runs these tests (in CI too: .ci/run installs one where the machine's is older)", () => {
    expect(satisfies(process.versions.node, engines), `Node ${process.versions.node} against ${engines}`).toBe(true);
  });

  it("is what .ci/run installs", () => {
    const pinned = /^NODE_VERSION=(\S+)$/m.exec(read(".ci/run"))?.[1];
    expect(pinned && satisfies(pinned, engines), `.ci/run NODE_VERSION=${pinned} against ${engines}`).toBe(true);
  });

  it("is the Docker image's, in every stage", () => {
    const images = DockerfileParser.parse(read("Dockerfile"))
      .getFROMs()
      .map((from) => `${from.getImageName()}:${from.getImageTag()}`);
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) {
      const major = /^node:(\d+)-/.exec(image)?.[1];
      expect(major && intersects(`^${major}`, engines), `${image} against ${engines}`).toBe(true);
    }
  });
});
