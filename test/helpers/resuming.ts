import type { Client } from "graphql-ws";
import type WebSocket from "ws";
import { changes } from "./changes.js";
import { type GqlResponse, gqlOk, type TestUser, wsClient } from "./client.js";

/** A message as the fault tests compare them: id and seq (String(seq) is messageAdded's `after` cursor). */
export interface SeqMessage {
  id: string;
  seq: number;
}

/** How long graphql-ws waits before each reconnect attempt of a {@link resumingSubscriber}, in ms. */
const RETRY_WAIT_MS = 100;

/**
 * A messageAdded subscriber written as a real client should be: a graphql-ws
 * client that reconnects by itself (`retryAttempts`, a short `retryWait`, every
 * close retried) and, on each `connected` after a `closed`, subscribes again with
 * `after:` the seq of the last message it got, so it misses nothing and gets
 * nothing twice across reconnects.
 */
export interface ResumingSubscriber {
  /** Every message received, in order of arrival. */
  received: SeqMessage[];
  /** The URL of each connection it made, in order. */
  connections: string[];
  /** What ended a subscription with an error (GraphQL errors), in order; empty when nothing did. */
  errors: unknown[];
  /** Resolves once the message `id` has been received. @throws after `timeoutMs`. */
  until(id: string, timeoutMs?: number): Promise<void>;
  /** Resolves once it has received anything. @throws after `timeoutMs`. */
  untilAny(timeoutMs?: number): Promise<void>;
  /** Cuts its current socket as a network would (terminate: no close frame); it then reconnects by itself. No-op while it is not connected. */
  cut(): void;
  dispose(): Promise<void>;
}

/**
 * Starts a {@link ResumingSubscriber} of `roomId`'s messageAdded as `user`;
 * `url` may be a function asked on every (re)connect (a load balancer);
 * `after` is the cursor of its first subscription (null: live only);
 * `retryAttempts`: failed reconnects in a row before it gives up (graphql-ws
 * counts from 0 again after each successful connect).
 */
export function resumingSubscriber(
  url: string | (() => string | Promise<string>),
  user: Pick<TestUser, "accessToken">,
  roomId: string,
  after: number | null = null,
  retryAttempts = 100,
): ResumingSubscriber {
  const received: SeqMessage[] = [];
  const connections: string[] = [];
  const errors: unknown[] = [];
  const { notify, waitFor } = changes();
  let last = after;
  let unsubscribe: (() => void) | null = null;
  let generation = 0;
  let socket: WebSocket | null = null;
  const start = (client: Client) => {
    const mine = ++generation; // events of a superseded subscription are ignored
    unsubscribe = client.subscribe<{ messageAdded: SeqMessage }>(
      {
        query: `subscription($r: ID!, $after: String) { messageAdded(roomId: $r, after: $after) { id seq } }`,
        variables: { r: roomId, after: last === null ? null : String(last) },
      },
      {
        next: (value: GqlResponse<{ messageAdded: SeqMessage }>) => {
          if (mine !== generation) return;
          if (value.data?.messageAdded) {
            received.push(value.data.messageAdded);
            last = value.data.messageAdded.seq;
          } else errors.push(value.errors);
          notify();
        },
        error: (e) => void (mine === generation && errors.push(e)),
        complete: () => {},
      },
    );
  };
  const client: Client = wsClient(url, user.accessToken, {
    retryAttempts,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, RETRY_WAIT_MS)),
    shouldRetry: () => true,
    on: {
      connected: (opened) => {
        socket = opened as WebSocket;
        connections.push(socket.url);
        start(client);
      },
      closed: () => {
        socket = null;
        generation++;
        unsubscribe?.();
        unsubscribe = null;
      },
    },
  });
  const until = async (done: () => boolean, what: string, timeoutMs: number) => {
    if (!(await waitFor(done, timeoutMs)))
      throw new Error(`${what} not received within ${timeoutMs} ms; got ${JSON.stringify(received)}, errors ${JSON.stringify(errors)}`);
  };
  return {
    received,
    connections,
    errors,
    until: (id, timeoutMs = 10_000) => until(() => received.some((m) => m.id === id), `message ${id}`, timeoutMs),
    untilAny: (timeoutMs = 10_000) => until(() => received.length > 0, "a message", timeoutMs),
    cut: () => socket?.terminate(),
    dispose: () => client.dispose() as Promise<void>,
  };
}

/** The room's stored messages as `user` reads them through the API (`messages`, paged), oldest first. */
export async function storedMessages(url: string, user: TestUser, roomId: string): Promise<SeqMessage[]> {
  const newestFirst: SeqMessage[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { messages: { edges: { node: SeqMessage }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await gqlOk(
      url,
      `query($r: ID!, $after: String) { messages(roomId: $r, first: 100, after: $after) { edges { node { id seq } } pageInfo { hasNextPage endCursor } } }`,
      { r: roomId, after },
      user.accessToken,
    );
    newestFirst.push(...page.messages.edges.map((e) => e.node));
    if (!page.messages.pageInfo.hasNextPage) return newestFirst.reverse();
    after = page.messages.pageInfo.endCursor;
  }
}
