import type { Client } from "graphql-ws";
import { expect } from "vitest";
import { gqlOk, subscribe, type TestUser, untilReceived, within, wsClient } from "./client.js";

/** A graphql-ws socket that is open, and how (with which code) it closes. */
export interface Socket {
  client: Client;
  /** Resolves with the close code. */
  closed: Promise<number>;
  isClosed(): boolean;
}

/** Opens a graphql-ws socket with `token`; resolves once the server has acknowledged it. */
export function openSocket(wsUrl: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let code: number | undefined;
    let onClosed!: (code: number) => void;
    const closed = new Promise<number>((r) => (onClosed = r));
    const client = wsClient(wsUrl, token, {
      on: {
        connected: () => resolve(socket),
        closed: (event) => {
          code = (event as { code: number }).code;
          onClosed(code);
          reject(new Error(`socket closed with ${code} before it was acknowledged`));
        },
      },
    });
    const socket: Socket = { client, closed, isClosed: () => code !== undefined };
  });
}

/** The close code of `socket`, failing if it stays open for `timeoutMs`. */
export function closeCode(socket: Socket, timeoutMs = 5000): Promise<number> {
  return within(socket.closed, timeoutMs, "the socket closing");
}

/** Fails unless `socket` still carries subscriptions: a message sent to `user`'s own room reaches it. */
export async function expectStillOpen(url: string, socket: Socket, user: TestUser, token: string): Promise<void> {
  expect(socket.isClosed()).toBe(false);
  const roomId = (await gqlOk(url, `mutation { createRoom(input: { name: "Solo", type: GROUP }) { id } }`, {}, token)).createRoom.id;
  const sub = subscribe(socket.client, `subscription($r: ID!) { messageAdded(roomId: $r) { sender { id } } }`, { r: roomId });
  const event = await untilReceived(sub, () =>
    gqlOk(url, `mutation($r: ID!) { sendMessage(input: { roomId: $r, content: "still here" }) { id } }`, { r: roomId }, token),
  );
  expect(event.data.messageAdded.sender.id).toBe(user.id);
  sub.stop();
}
