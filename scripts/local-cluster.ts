/**
 * `npm run cluster`: the docker-compose topology from local processes, for
 * machines without Docker: two chat nodes (the compiled dist/main.js, as
 * `npm start` runs them; built first if src/ changed) on NODE_PORTS (default
 * 4001,4002) sharing DATABASE_URL and REDIS_URL (defaults: the local servers,
 * database `chat`), and a Node.js proxy on PORT
 * (default 4000) in front, round robin for HTTP and WebSocket upgrades, like
 * deploy/nginx.conf.template. Stops everything on SIGTERM/SIGINT; exits if a node dies.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { createProxyServer } from "httpxy";
import { buildServer, SERVER_NODE_ARGS } from "./build.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const port = Number(process.env.PORT ?? 4000);
const nodePorts = (process.env.NODE_PORTS ?? "4001,4002").split(",").map(Number);
const env = {
  ...process.env,
  NODE_ENV: process.env.NODE_ENV ?? "production",
  DATABASE_URL: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/chat",
  REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  JWT_SECRET: process.env.JWT_SECRET ?? randomBytes(32).toString("hex"),
  HOST: "127.0.0.1",
  // the proxy below appends the client address to X-Forwarded-For (xfwd); per-IP rate limits read it
  TRUST_PROXY: "1",
};

await buildServer();
const nodes: ChildProcess[] = nodePorts.map((nodePort) => {
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS], { cwd: root, env: { ...env, PORT: String(nodePort) }, stdio: "inherit" });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`node on port ${nodePort} exited (${signal ?? code}); stopping the cluster`);
      void stop(1);
    }
  });
  return child;
});

// httpxy (unjs): http-proxy's API, maintained; WebSocket upgrades are piped through (ws)
const proxy = createProxyServer({ ws: true, xfwd: true });
proxy.on("error", (err, _req, res) => {
  if (res && "writeHead" in res && !res.headersSent) res.writeHead(502).end(`bad gateway: ${err.message}`);
  else res?.destroy();
});
let next = 0;
/** The next node, round robin. */
const target = () => `http://127.0.0.1:${nodePorts[next++ % nodePorts.length]}`;
const server = createServer((req, res) => void proxy.web(req, res, { target: target() }));
server.on("upgrade", (req, socket, head) => void proxy.ws(req, socket as Socket, { target: target() }, head));
server.listen(port, "127.0.0.1", () =>
  console.log(`cluster proxy ready at http://127.0.0.1:${port}/graphql → nodes on ${nodePorts.join(", ")}`),
);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  server.close();
  await Promise.all(
    nodes.map((child) =>
      child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM")) : null,
    ),
  );
  process.exit(code);
}
process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));
