import { MessageType } from "graphql-ws";

/** Message types only a graphql-ws server sends (GraphQL over WebSocket protocol). */
const SERVER_ONLY = new Set<unknown>([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

/**
 * graphql-ws' `jsonMessageReviver` for incoming messages: refuses a message of a
 * type only servers send (`connection_ack`, `next`, `error`) by throwing while it
 * is parsed, so graphql-ws closes the socket with 4400 "Invalid message received"
 * (as for any malformed message) instead of failing inside its handler with 4500
 * Internal Server Error and a console.error line.
 * @throws Error for such a message (JSON.parse calls revivers with key "" for the root value).
 */
export function refuseServerMessages(key: string, value: unknown): unknown {
  if (key === "" && typeof value === "object" && value !== null && SERVER_ONLY.has((value as { type?: unknown }).type)) {
    throw new Error("a server-only message type");
  }
  return value;
}
