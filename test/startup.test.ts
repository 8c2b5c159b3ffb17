/**
 * A start that cannot serve ends the process: `npm start` on a port that another
 * server holds exits 1 at once, saying which port, instead of running on with
 * nothing listening.
 */
import { describe, expect, it } from "vitest";
import { startNode } from "./helpers/node-process.js";
import { useNodes } from "./helpers/nodes.js";

/** How long the second process may take to start, fail and exit, in ms: a start on a busy machine, no more. */
const EXIT_BOUND_MS = 20_000;

describe("a PORT already in use", () => {
  const group = useNodes(1);

  it(
    "exits 1 at once, naming the port",
    async () => {
      const port = new URL(group.nodes[0].url).port;
      // the same command again, as `PORT=<port> npm start` twice
      const second = startNode({ ...group.env, PORT: port }, EXIT_BOUND_MS);
      await expect(second).rejects.toThrow(new RegExp(`exited with code 1 before it was ready[^]*port ${port}\\b`));
    },
    EXIT_BOUND_MS + 5_000,
  );
});
