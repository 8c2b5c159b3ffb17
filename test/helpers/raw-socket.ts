import WebSocket from "ws";

/**
 * A raw graphql-transport-ws socket, in the manner of graphql-ws's own test
 * client (tclient): what a client sends frame by frame (also a hostile or broken
 * one), and every frame it gets as the server wrote it, byte for byte.
 */
export interface RawSocket {
  ws: WebSocket;
  /** Sends one message, as JSON. */
  send(message: object): void;
  /** Resolves when the server acknowledged connection_init. */
  acked: Promise<void>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  /** The text of every frame but connection_ack, in order of arrival. */
  frames: string[];
  /** The texts of each subscription's `next` frames, by id: an entry per `operations` id from the start, others from their first `next`. */
  nexts: Map<string, string[]>;
}

/**
 * Opens a {@link RawSocket} on `wsUrl`. With `token` it sends connection_init with
 * it (as `Bearer`) at once, and once acknowledged subscribes to `operations`
 * (id → [query, variables]); without, it sends nothing by itself.
 */
export function rawSocket(wsUrl: string, token?: string, operations: Record<string, [string, Record<string, unknown>]> = {}): RawSocket {
  const ws = new WebSocket(wsUrl, "graphql-transport-ws");
  const send = (message: object) => ws.send(JSON.stringify(message));
  const frames: string[] = [];
  const nexts = new Map<string, string[]>(Object.keys(operations).map((id) => [id, []]));
  let onAck!: () => void;
  const acked = new Promise<void>((resolve) => (onAck = resolve));
  ws.on("open", () => {
    if (token) send({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
  });
  ws.on("message", (data) => {
    const text = String(data);
    const message = JSON.parse(text) as { type: string; id?: string };
    if (message.type === "connection_ack") {
      onAck();
      for (const [id, [query, variables]] of Object.entries(operations)) send({ id, type: "subscribe", payload: { query, variables } });
      return;
    }
    frames.push(text);
    if (message.type !== "next") return;
    if (!nexts.has(message.id!)) nexts.set(message.id!, []);
    nexts.get(message.id!)!.push(text);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return { ws, send, acked, closed, frames, nexts };
}
