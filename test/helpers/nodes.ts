import { afterAll, beforeAll } from "vitest";
import { on, registerUser, type TestUser } from "./client.js";
import { type NodeGroup, type NodeProcess, startNodes, type Tuple } from "./node-process.js";
import { makeRoom } from "./rooms.js";

/** How {@link useNodes} starts its group: `timeoutMs` bounds its `beforeAll` (120,000 ms by default: the nodes start in parallel, 2 cores shared). */
export interface UseNodesOptions {
  timeoutMs?: number;
}

/**
 * Registers the hooks of a suite that runs against {@link startNodes}(`count`, `env`)
 * in the current `describe` (or file), in the manner of `useTestServer` (server.ts;
 * this file loads no server code, so DOM test environments can use it too):
 * `beforeAll` starts the group, `afterAll` stops it (SIGTERM, database dropped).
 * `env` may be a function, called and awaited by that `beforeAll`: for variables
 * known only once an earlier hook has run, or a service it starts itself (e.g. a
 * dedicated Redis). Returns the {@link NodeGroup} at once, usable once its
 * `beforeAll` has run: `nodes` are stand-ins for the started nodes (each field
 * throws if read before), so `const { nodes: [a, b] } = useNodes(2)` works where
 * the suite is declared.
 */
export function useNodes<N extends number>(
  count: N,
  env: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>) = {},
  options: UseNodesOptions = {},
): NodeGroup<Tuple<NodeProcess, N>> {
  let started: NodeGroup<Tuple<NodeProcess, N>> | undefined;
  const current = () => {
    if (!started) throw new Error("useNodes: the nodes are not started yet (use them inside a test or hook)");
    return started;
  };
  const at = (i: number) => (current().nodes as NodeProcess[])[i]!;
  const node = (i: number): NodeProcess => ({
    get url() {
      return at(i).url;
    },
    get wsUrl() {
      return at(i).wsUrl;
    },
    get child() {
      return at(i).child;
    },
    output: () => at(i).output(),
    stop: (signal) => at(i).stop(signal),
  });
  beforeAll(async () => {
    started = await startNodes(count, typeof env === "function" ? await env() : env);
  }, options.timeoutMs ?? 120_000);
  afterAll(() => started?.stop());
  return {
    nodes: Array.from({ length: count }, (_, i) => node(i)) as Tuple<NodeProcess, N>,
    get env() {
      return current().env;
    },
    startAnother: () => current().startAnother(),
    stop: () => current().stop(),
  };
}

/**
 * The setup of the two-node suites (two-nodes, shutdown): {@link useNodes}(2, `env`) (`env` as there),
 * and, registered by a `beforeAll`, alice on node A, bob and carol on node B, and a
 * GROUP room named `name` of alice's with bob and carol as members (`room.id`).
 */
export function useRoomAcrossNodes(env: Parameters<typeof useNodes>[1], name: string) {
  const group = useNodes(2, env);
  const [a, b] = group.nodes;
  const users = [{}, {}, {}] as [TestUser, TestUser, TestUser];
  const room = { id: "" };
  beforeAll(async () => {
    const registered = await Promise.all([registerUser(a.url, "alice"), registerUser(b.url, "bob"), registerUser(b.url, "carol")]);
    for (const [i, user] of registered.entries()) Object.assign(users[i]!, user);
    room.id = await makeRoom(on(a.url), users[0], { name, members: [users[1], users[2]] });
  });
  return { group, users, room };
}
