/**
 * The ceiling baseline: a bare `ws` server speaking just enough
 * graphql-transport-ws for the bench clients, in its own process
 * (`PORT=… node --import tsx scripts/bench/raw-server.ts`, started by main.ts).
 * - `ws://127.0.0.1:PORT/graphql`: answers `connection_init` with
 *   `connection_ack` (no auth), accepts `subscribe` (remembers the socket under
 *   `variables.roomId`), answers `ping` with `pong`, forgets on `complete`/close;
 * - `POST /send` with `{ roomId, content, sender: { id, displayName } }`: builds
 *   ONE `{"id":"1","type":"next","payload":{"data":{"messageAdded":{id, seq,
 *   content, createdAt, sender}}}}` frame (same fields, order and size as our
 *   server's), serializes it once and sends it to every subscriber of the room;
 *   answers `{ "sent": <sockets> }` when all sends are queued;
 * - `GET /health` (readiness) and `GET /metrics`: `chat_subscriptions_active`,
 *   `chat_websocket_connections` and `nodejs_heap_size_used_bytes`, named as
 *   on our server so the bench polls both alike.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import { type WebSocket, WebSocketServer } from "ws";

const port = Number(process.env.PORT ?? 0);
/** roomId → sockets subscribed to it */
const rooms = new Map<string, Set<WebSocket>>();
let subscriptions = 0;
let connections = 0;
let seq = 0;

async function body(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") return void res.end("ok");
  if (req.method === "GET" && req.url === "/metrics") {
    const lines = [
      `chat_subscriptions_active ${subscriptions}`,
      `chat_websocket_connections ${connections}`,
      `nodejs_heap_size_used_bytes ${process.memoryUsage().heapUsed}`,
    ];
    return void res.end(`${lines.join("\n")}\n`);
  }
  if (req.method === "POST" && req.url === "/send") {
    void body(req).then((text) => {
      const { roomId, content, sender } = JSON.parse(text) as {
        roomId: string;
        content: string;
        sender: { id: string; displayName: string };
      };
      const messageAdded = {
        id: randomUUID(),
        seq: ++seq,
        content,
        createdAt: new Date().toISOString(),
        sender: { id: sender.id, displayName: sender.displayName },
      };
      const frame = JSON.stringify({ id: "1", type: "next", payload: { data: { messageAdded } } });
      const sockets = rooms.get(roomId) ?? new Set();
      for (const socket of sockets) socket.send(frame);
      res.setHeader("content-type", "application/json").end(JSON.stringify({ sent: sockets.size }));
    });
    return;
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({
  server,
  path: "/graphql",
  handleProtocols: (protocols) => (protocols.has("graphql-transport-ws") ? "graphql-transport-ws" : false),
});
wss.on("connection", (socket) => {
  let room: string | null = null;
  let acked = false;
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString()) as { type: string; id?: string; payload?: { variables?: { roomId?: string } } };
    if (message.type === "connection_init" && !acked) {
      acked = true;
      connections++;
      socket.send(JSON.stringify({ type: "connection_ack" }));
    } else if (message.type === "subscribe" && acked && room === null) {
      room = message.payload?.variables?.roomId ?? "";
      rooms.set(room, (rooms.get(room) ?? new Set()).add(socket));
      subscriptions++;
    } else if (message.type === "complete" && room !== null) {
      forget();
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    }
  });
  const forget = () => {
    if (room !== null && rooms.get(room)?.delete(socket)) subscriptions--;
    room = null;
  };
  socket.on("close", () => {
    forget();
    if (acked) connections--;
  });
  socket.on("error", () => {});
});

server.listen(port, "127.0.0.1");
// the bench stops this process with SIGTERM (SIGKILL as a last resort); it never outlives its parent for long
process.on("SIGTERM", () => process.exit(0));
setTimeout(() => process.exit(3), Number(process.env.BENCH_HARD_TIMEOUT_MS ?? 30 * 60_000)).unref();
