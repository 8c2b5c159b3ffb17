/**
 * Real clients against a real server: Apollo Client and urql, as set up in
 * examples/clients/ (apollo.ts, urql.ts), each logging in, querying, sending,
 * receiving through a subscription and keeping its cache right; refreshing an
 * expired access token on the way; and resuming its streams after the socket
 * is killed, with every message once and in order. Both send each operation by
 * its trusted-document hash first: the server of the first suites does not take
 * hashes (GRAPHQL_TRUSTED_DOCUMENTS off), so they fall back to the text; another
 * runs only trusted documents, and they work there by hash alone.
 */
import { randomUUID } from "node:crypto";
import type { OperationResult } from "@urql/core";
import { afterEach, describe, expect, onTestFinished, test, vi } from "vitest";
import { filter, onPush, pipe, take, toPromise } from "wonka";
import WebSocket from "ws";
import { type ApolloChat, createApolloChat } from "../examples/clients/apollo.js";
import { createUrqlChat, type UrqlChat } from "../examples/clients/urql.js";
import {
  CreateRoomDocument,
  MyRoomsDocument,
  type MyRoomsQuery,
  type MyRoomsQueryVariables,
  PostMessageDocument,
  RoomCursorDocument,
  RoomSummaryFragmentDoc,
} from "../examples/generated/graphql.js";
import { errorCode, gql, gqlOk, registerUser } from "./helpers/client.js";
import { type TestServer, useTestServer } from "./helpers/server.js";

const PASSWORD = "correct horse battery";

/** A `ws` WebSocket class that keeps every socket it makes, so a test can kill one. */
function trackedWebSocket() {
  const sockets: WebSocket[] = [];
  class Tracked extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  return { impl: Tracked, sockets };
}

/**
 * A graphql-ws retryWait that waits for `release()` while `hold()` is on: keeps
 * the socket down while the test sends, without a sleep.
 */
function retryGate() {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  return {
    retryWait: () => gate,
    hold: () => {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    release: () => open(),
  };
}

const input = (prefix: string) => {
  const username = `${prefix}_${randomUUID().slice(0, 12).replace(/-/g, "")}`;
  return { username, email: `${username}@example.com`, password: PASSWORD, firstName: prefix, lastName: "Test" };
};

type Chat = ApolloChat | UrqlChat;

/** What the shared tests need of a client module, besides the common ApolloChat/UrqlChat surface. */
interface Driver<C extends Chat> {
  make(server: TestServer, ws?: NonNullable<Parameters<typeof createApolloChat>[0]["ws"]>): { chat: C; sockets: WebSocket[] };
  /** myRooms from the network: the room's unreadCount and lastMessage content, and any error code. */
  myRooms(chat: C, first?: number): Promise<{ code?: unknown; rooms: { id: string; unreadCount: number; last: string | null }[] }>;
  createRoom(chat: C, memberIds: string[]): Promise<string>;
  roomCursor(chat: C, roomId: string): Promise<string | null>;
  /** Sends `content` to the room with PostMessage; resolves its seq. */
  post(chat: C, roomId: string, content: string): Promise<number>;
}

const apollo: Driver<ApolloChat> = {
  make(server, ws) {
    const { impl, sockets } = trackedWebSocket();
    return { chat: createApolloChat({ httpUrl: server.url, wsUrl: server.wsUrl, webSocketImpl: impl, ws }), sockets };
  },
  async myRooms(chat, first) {
    const { data, error } = await chat.client.query({
      query: MyRoomsDocument,
      variables: { first },
      fetchPolicy: "network-only",
      errorPolicy: "all",
    });
    const code = error && "errors" in error ? (error.errors as { extensions?: { code?: unknown } }[])[0]?.extensions?.code : error?.message;
    return {
      code,
      rooms: (data?.myRooms.edges ?? []).map(({ node }) => ({
        id: node.id,
        unreadCount: node.unreadCount,
        last: node.lastMessage?.content ?? null,
      })),
    };
  },
  async createRoom(chat, memberIds) {
    const { data } = await chat.client.mutate({
      mutation: CreateRoomDocument,
      variables: { input: { name: "Clients", type: "GROUP", memberIds } },
    });
    return data!.createRoom.id;
  },
  async roomCursor(chat, roomId) {
    const { data } = await chat.client.query({ query: RoomCursorDocument, variables: { id: roomId }, fetchPolicy: "network-only" });
    return data!.room!.eventCursor ?? null;
  },
  async post(chat, roomId, content) {
    const { data } = await chat.client.mutate({ mutation: PostMessageDocument, variables: { input: { roomId, content } } });
    return data!.sendMessage.seq;
  },
};

const urql: Driver<UrqlChat> = {
  make(server, ws) {
    const { impl, sockets } = trackedWebSocket();
    return { chat: createUrqlChat({ httpUrl: server.url, wsUrl: server.wsUrl, webSocketImpl: impl, ws }), sockets };
  },
  async myRooms(chat, first) {
    const { data, error } = await chat.client.query(MyRoomsDocument, { first }, { requestPolicy: "network-only" }).toPromise();
    return {
      code: error?.graphQLErrors[0]?.extensions?.code ?? error?.networkError?.message,
      rooms: (data?.myRooms.edges ?? []).map(({ node }) => ({
        id: node.id,
        unreadCount: node.unreadCount,
        last: node.lastMessage?.content ?? null,
      })),
    };
  },
  async createRoom(chat, memberIds) {
    const result = await chat.client.mutation(CreateRoomDocument, { input: { name: "Clients", type: "GROUP", memberIds } }).toPromise();
    if (!result.data) throw result.error;
    return result.data.createRoom.id;
  },
  async roomCursor(chat, roomId) {
    const result = await chat.client.query(RoomCursorDocument, { id: roomId }, { requestPolicy: "network-only" }).toPromise();
    return result.data!.room!.eventCursor ?? null;
  },
  async post(chat, roomId, content) {
    const result = await chat.client.mutation(PostMessageDocument, { input: { roomId, content } }).toPromise();
    if (!result.data) throw result.error;
    return result.data.sendMessage.seq;
  },
};

const drivers = { apollo, urql } as const;

describe("Apollo Client and urql against the server", () => {
  const { server } = useTestServer([], { redis: true });
  const chats: Chat[] = [];
  afterEach(async () => {
    await Promise.all(chats.splice(0).map((c) => c.dispose()));
  });
  const make = <C extends Chat>(driver: Driver<C>, ws?: Parameters<Driver<C>["make"]>[1]) => {
    const made = driver.make(server, ws);
    chats.push(made.chat);
    return made;
  };

  test("Apollo: log in, query, send, receive through a subscription; the normalized cache follows", async () => {
    const { chat: alice } = make(apollo);
    const { chat: bob } = make(apollo);
    await alice.register(input("ap_alice"));
    const bobUser = await registerUser(server.url, "ap_bob");
    expect(await bob.login({ email: `${bobUser.username}@example.com`, password: PASSWORD })).toEqual({ userId: bobUser.id });
    const roomId = await apollo.createRoom(alice, [bobUser.id]);

    expect((await apollo.myRooms(bob)).rooms).toEqual([{ id: roomId, unreadCount: 0, last: null }]);
    expect((await apollo.myRooms(alice)).rooms).toEqual([{ id: roomId, unreadCount: 0, last: null }]);
    const summary = (chat: ApolloChat) =>
      chat.client.cache.readFragment({
        id: chat.client.cache.identify({ __typename: "Room", id: roomId }),
        fragment: RoomSummaryFragmentDoc,
      });

    const received: { seq: number; content: string }[] = [];
    bob.followMessages(roomId, "0", (m) => received.push({ seq: m.seq, content: m.content }));
    const { data } = await alice.client.mutate({
      mutation: PostMessageDocument,
      variables: { input: { roomId, content: "hello from Apollo" } },
    });
    expect(data!.sendMessage).toMatchObject({ seq: 1, content: "hello from Apollo" });
    // the mutation result normalized into the sender's cached room
    expect(summary(alice)).toMatchObject({ unreadCount: 0, lastMessage: { id: data!.sendMessage.id, content: "hello from Apollo" } });

    await vi.waitFor(() => expect(received).toEqual([{ seq: 1, content: "hello from Apollo" }]));
    // the subscription result normalized into the receiver's cached room, without a refetch
    expect(summary(bob)).toMatchObject({ unreadCount: 1, lastMessage: { id: data!.sendMessage.id, content: "hello from Apollo" } });
    // and a refetch agrees, and leaves the cached query reading the same
    expect((await apollo.myRooms(bob)).rooms).toEqual([{ id: roomId, unreadCount: 1, last: "hello from Apollo" }]);
    const cached = bob.client.readQuery({ query: MyRoomsDocument, variables: {} });
    expect(cached?.myRooms.edges.map(({ node }) => [node.unreadCount, node.lastMessage?.content])).toEqual([[1, "hello from Apollo"]]);
  });

  test("urql: log in, query, send, receive through a subscription; the document cache invalidates and refetches", async () => {
    const { chat: alice } = make(urql);
    const { chat: bob } = make(urql);
    await alice.register(input("uq_alice"));
    const bobUser = await registerUser(server.url, "uq_bob");
    expect(await bob.login({ email: `${bobUser.username}@example.com`, password: PASSWORD })).toEqual({ userId: bobUser.id });
    const roomId = await urql.createRoom(alice, [bobUser.id]);

    const cacheFirst = (chat: UrqlChat) => chat.client.query(MyRoomsDocument, {}, { requestPolicy: "cache-first" }).toPromise();
    const view = (result: Awaited<ReturnType<typeof cacheFirst>>) => ({
      outcome: result.operation.context.meta?.cacheOutcome,
      rooms: result.data?.myRooms.edges.map(({ node }) => [node.id, node.unreadCount, node.lastMessage?.content ?? null]),
    });
    expect(view(await cacheFirst(alice))).toEqual({ outcome: "miss", rooms: [[roomId, 0, null]] });
    expect(view(await cacheFirst(alice))).toEqual({ outcome: "hit", rooms: [[roomId, 0, null]] });
    expect(view(await cacheFirst(bob))).toEqual({ outcome: "miss", rooms: [[roomId, 0, null]] });

    const received: { seq: number; content: string }[] = [];
    bob.followMessages(roomId, "0", (m) => received.push({ seq: m.seq, content: m.content }));
    const sent = await alice.client.mutation(PostMessageDocument, { input: { roomId, content: "hello from urql" } }).toPromise();
    expect(sent.data?.sendMessage).toMatchObject({ seq: 1, content: "hello from urql" });
    // the mutation's Room and Message typenames invalidated the sender's cached myRooms: fetched again
    expect(view(await cacheFirst(alice))).toEqual({ outcome: "miss", rooms: [[roomId, 0, "hello from urql"]] });

    await vi.waitFor(() => expect(received).toEqual([{ seq: 1, content: "hello from urql" }]));
    // a subscription result does not touch the document cache: cache-first still shows the old list…
    expect(view(await cacheFirst(bob))).toEqual({ outcome: "hit", rooms: [[roomId, 0, null]] });
    // …cache-and-network shows it at once (stale), then the network's answer
    const results = await cacheAndNetwork(bob);
    expect(results.map((r) => [r.stale, view(r).rooms])).toEqual([
      [true, [[roomId, 0, null]]],
      [false, [[roomId, 1, "hello from urql"]]],
    ]);
    expect(view(await cacheFirst(bob))).toEqual({ outcome: "hit", rooms: [[roomId, 1, "hello from urql"]] });
  });

  for (const [name, driver] of Object.entries(drivers) as [string, Driver<Chat>][]) {
    test(`${name}: resumes its streams after the socket is killed: every message once, in order`, async () => {
      const gate = retryGate();
      onTestFinished(() => gate.release()); // a failing test must not leave the socket held down (dispose waits for it)
      const { chat: bob, sockets } = make(driver, { retryWait: gate.retryWait });
      const { userId: bobId } = await bob.register(input(`${name.slice(0, 2)}_bob`));
      const alice = await registerUser(server.url, `${name.slice(0, 2)}_alice`);
      const roomId = (
        await gqlOk(
          server.url,
          `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`,
          { input: { name: "Resume", type: "GROUP", memberIds: [bobId] } },
          alice.accessToken,
        )
      ).createRoom.id as string;
      const send = (content: string) =>
        gqlOk(
          server.url,
          `mutation($input: SendMessageInput!) { sendMessage(input: $input) { seq } }`,
          { input: { roomId, content } },
          alice.accessToken,
        );

      const messages: [number, string][] = [];
      const events: [number, string, number | null][] = [];
      const ended: unknown[] = [];
      const messageStream = bob.followMessages(
        roomId,
        "0",
        (m) => messages.push([m.seq, m.content]),
        (e) => ended.push(e),
      );
      const eventStream = bob.followRoomEvents(
        roomId,
        await driver.roomCursor(bob, roomId),
        (e) => events.push([e.seq, e.__typename, e.__typename === "MessageAdded" ? e.message.seq : null]),
        (e) => ended.push(e),
      );
      const addedSeqs = () => events.filter(([, type]) => type === "MessageAdded").map(([, , seq]) => seq);

      await send("m1");
      await vi.waitFor(() => {
        expect(messages).toEqual([[1, "m1"]]);
        expect(addedSeqs()).toEqual([1]);
      });
      expect(sockets).toHaveLength(1);

      gate.hold();
      sockets[0]!.terminate();
      for (const content of ["m2", "m3", "m4"]) await send(content);
      await vi.waitFor(() => expect(messageStream.resumes).toBeGreaterThan(0));
      gate.release();
      await vi.waitFor(() => expect(messages.map(([seq]) => seq)).toEqual([1, 2, 3, 4]));
      await send("m5");

      const all = [1, 2, 3, 4, 5];
      await vi.waitFor(() => {
        expect(messages).toEqual(all.map((seq) => [seq, `m${seq}`]));
        expect(addedSeqs()).toEqual(all);
      });
      // the room's own event numbers: no gap, no repeat
      const eventSeqs = events.map(([seq]) => seq);
      expect(eventSeqs).toEqual(eventSeqs.map((_, i) => eventSeqs[0]! + i));
      expect(sockets).toHaveLength(2);
      expect(eventStream.resumes).toBeGreaterThan(0);
      expect(ended).toEqual([]);
      expect(messageStream.after).toBe("5");
    });
  }
});

describe("catch-up through sync (examples/clients/catch-up.ts)", () => {
  const { server } = useTestServer([], { redis: true });
  const chats: Chat[] = [];
  afterEach(async () => {
    await Promise.all(chats.splice(0).map((c) => c.dispose()));
  });

  for (const name of Object.keys(drivers)) {
    test(`${name}: offline while messages are sent, it catches up through sync on reconnect: every message once, the events since its sync once`, async () => {
      const gate = retryGate();
      onTestFinished(() => gate.release());
      const { impl, sockets } = trackedWebSocket();
      const options = { httpUrl: server.url, wsUrl: server.wsUrl, webSocketImpl: impl, ws: { retryWait: gate.retryWait } };
      const bob = name === "apollo" ? createApolloChat(options) : createUrqlChat(options);
      chats.push(bob);
      const { userId: bobId } = await bob.register(input(`${name.slice(0, 2)}_cu_bob`));
      const alice = await registerUser(server.url, `${name.slice(0, 2)}_cu_alice`);
      const ok = (query: string, variables: Record<string, unknown>) => gqlOk(server.url, query, variables, alice.accessToken);
      const create = async (n: string) =>
        (
          await ok(`mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`, {
            input: { name: n, type: "GROUP", memberIds: [bobId] },
          })
        ).createRoom.id as string;
      const roomId = await create("Catch-up");
      const send = (content: string) =>
        ok(`mutation($input: SendMessageInput!) { sendMessage(input: $input) { seq } }`, { input: { roomId, content } });

      // the app's state: the room's messages by seq; a sync is merged in (it may hold messages the live stream gave
      // already: it lists what came since the previous sync), a live message must be new
      const seqs: number[] = [];
      const repeated: number[] = [];
      const events: string[] = [];
      const synced: { rooms: string[]; seqs: number[] }[] = [];
      const errors: unknown[] = [];
      const session = bob.catchUp({
        onSync: (result) => {
          const room = result.rooms.find((r) => r.room.id === roomId);
          synced.push({ rooms: result.rooms.map((r) => r.room.id), seqs: room?.messages.map((m) => m.seq) ?? [] });
          for (const m of room?.messages ?? []) if (!seqs.includes(m.seq)) seqs.push(m.seq);
        },
        onMessage: (_roomId, message) => (seqs.includes(message.seq) ? repeated : seqs).push(message.seq),
        onEvent: (e) =>
          events.push(
            e.__typename === "RoomActivity"
              ? `activity ${e.lastMessage?.seq}`
              : e.__typename === "AddedToRoom"
                ? `added ${e.room.id}`
                : e.__typename === "MentionNotification"
                  ? `mention ${e.message.seq}`
                  : e.__typename,
          ),
        onError: (e) => errors.push(e),
      });
      onTestFinished(() => session.stop());
      await session.ready;
      expect(synced).toEqual([{ rooms: [roomId], seqs: [] }]);
      session.openRoom(roomId, "0");
      // messageAdded(after: "0"): m1 comes whenever its subscription is set up
      await send("m1");
      await vi.waitFor(() => expect(seqs).toEqual([1]));
      await vi.waitFor(() => expect(events).toContain("activity 1"));
      const first = 1;

      // offline: the socket dies and stays down; it syncs over HTTP at once, the subscriptions wait for the socket
      gate.hold();
      sockets[0]!.terminate();
      await send("while offline, before the sync");
      await vi.waitFor(() => expect(session.syncs).toBe(2));
      await send(
        `while offline, after the sync @${(await gqlOk(server.url, "{ me { username } }", {}, bob.tokens.pair!.accessToken)).me.username}`,
      );
      const other = await create("Later");
      await send("last while offline");
      gate.release();
      const all = Array.from({ length: 4 }, (_, i) => first + i); // m1 (or its last retry), three sent offline
      await vi.waitFor(() => expect(seqs).toEqual(all));
      await send("live again");
      await vi.waitFor(() => expect(seqs).toEqual([...all, first + 4]));
      expect(repeated).toEqual([]);
      // what the second sync did not have came once, on myEvents(after:)
      expect(synced[1]!.seqs.length).toBeGreaterThan(0);
      expect(events.filter((e) => !e.startsWith("activity"))).toEqual([`mention ${first + 2}`, `added ${other}`]);
      const activity = events.filter((e) => e.startsWith("activity"));
      expect(new Set(activity).size).toBe(activity.length);
      expect(errors).toEqual([]);
      expect(sockets.length).toBe(2);
    });
  }
});

describe("a server that runs only trusted documents (GRAPHQL_TRUSTED_DOCUMENTS=only)", () => {
  const { server } = useTestServer([], {
    env: { GRAPHQL_TRUSTED_DOCUMENTS: "only", GRAPHQL_TRUSTED_DOCUMENTS_FILE: "examples/generated/persisted-documents.json" },
  });
  const chats: Chat[] = [];
  afterEach(async () => {
    await Promise.all(chats.splice(0).map((c) => c.dispose()));
  });

  test("refuses a document sent as text", async () => {
    expect(errorCode(await gql(server.url, "{ me { id } }"))).toBe("PERSISTED_QUERY_ONLY");
  });

  for (const [name, driver] of Object.entries(drivers) as [string, Driver<Chat>][]) {
    test(`${name}: registers, creates a room, queries, sends, and receives through both subscriptions, every operation by its hash`, async () => {
      const [{ chat: alice }, { chat: bob }] = [driver.make(server), driver.make(server)];
      chats.push(alice, bob);
      await alice.register(input(`${name.slice(0, 2)}_pq_alice`));
      const { userId: bobId } = await bob.register(input(`${name.slice(0, 2)}_pq_bob`));
      const roomId = await driver.createRoom(alice, [bobId]);

      const messages: string[] = [];
      const events: string[] = [];
      bob.followMessages(roomId, "0", (m) => messages.push(m.content));
      bob.followRoomEvents(roomId, await driver.roomCursor(bob, roomId), (e) => events.push(e.__typename));
      expect(await driver.post(alice, roomId, "by hash")).toBe(1);
      await vi.waitFor(() => {
        expect(messages).toEqual(["by hash"]);
        expect(events).toContain("MessageAdded");
      });
      expect((await driver.myRooms(bob)).rooms).toEqual([{ id: roomId, unreadCount: 1, last: "by hash" }]);
    });
  }
});

describe("token refresh (access tokens live 1 s)", () => {
  const { server } = useTestServer([], { redis: true, env: { ACCESS_TOKEN_TTL_S: "1" } });
  const chats: Chat[] = [];
  afterEach(async () => {
    await Promise.all(chats.splice(0).map((c) => c.dispose()));
  });

  for (const [name, driver] of Object.entries(drivers) as [string, Driver<Chat>][]) {
    test(`${name}: an expired access token is refreshed once, and the queries still succeed`, async () => {
      const { chat } = driver.make(server);
      chats.push(chat);
      await chat.register(input(`${name.slice(0, 2)}_tok`));
      const before = chat.tokens.pair!;
      // wait out the 1 s lifetime, by asking the server until it refuses the token
      await vi.waitFor(
        async () =>
          expect(errorCode(await gql(server.url, "{ myRooms { edges { cursor } } }", {}, before.accessToken))).toBe("UNAUTHENTICATED"),
        {
          timeout: 5000,
          interval: 100,
        },
      );

      // three queries at once, each UNAUTHENTICATED first: one refresh, three retries
      const results = await Promise.all([1, 2, 3].map((first) => driver.myRooms(chat, first)));
      expect(results).toEqual([1, 2, 3].map(() => ({ code: undefined, rooms: [] })));
      expect(chat.tokens.refreshes).toBe(1);
      expect(chat.tokens.pair!.accessToken).not.toBe(before.accessToken);
      expect(chat.tokens.pair!.refreshToken).not.toBe(before.refreshToken);
    });
  }
});

/** The results of a cache-and-network myRooms query up to its first non-stale one (network's), in order. */
async function cacheAndNetwork(chat: UrqlChat) {
  const seen: OperationResult<MyRoomsQuery, MyRoomsQueryVariables>[] = [];
  await pipe(
    chat.client.query(MyRoomsDocument, {}, { requestPolicy: "cache-and-network" }),
    onPush((result) => seen.push(result)),
    filter((result) => !result.stale),
    take(1),
    toPromise,
  );
  return seen;
}
