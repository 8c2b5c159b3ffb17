/**
 * myEvents' RoomActivity (realtime/room-activity.ts): a new message in any of the
 * viewer's rooms reaches every socket of theirs once, with the viewer's unread
 * count; muted rooms without the message; nothing from a user they blocked or
 * from a room they left; one registration per room and one read per message per
 * node; coalesced in big rooms; once per socket across two nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type GqlResponse,
  gqlOk,
  registerUser,
  type Subscription,
  subscribe,
  type TestUser,
  untilReceived,
  wsClient,
} from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { useTestServer } from "./helpers/server.js";

const MY_EVENTS = `subscription { myEvents { __typename ... on RoomActivity { roomId unreadCount at message: lastMessage { id content sender { id } } room { id } } } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const CREATE = `mutation($n: String!, $t: CreatableRoomType!, $m: [ID!]) { createRoom(input: { name: $n, type: $t, memberIds: $m }) { id } }`;
const LAST = `query($r: ID!) { room(id: $r) { lastMessage { id } } }`;
const MARK_READ = `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id } }`;

type Activity = {
  roomId: string;
  unreadCount: number;
  message: { id: string; content: string; sender: { id: string } } | null;
  room: { id: string };
};
const activity = (e: GqlResponse): Activity | undefined => (e.data?.myEvents.__typename === "RoomActivity" ? e.data.myEvents : undefined);
/** Matches the RoomActivity of the message with `content`. */
const about = (content: string) => (e: GqlResponse) => activity(e)?.message?.content === content;

/**
 * Helpers on one server (`url`): `live(user)` opens a myEvents subscription on a new
 * socket; `warm(subs, room, actor)` waits until each has had a RoomActivity of
 * `room` (so it is registered), then marks the room read for the subscribers' users.
 */
function helpers(url: () => string, wsUrl: () => string, opened: { dispose(): unknown }[]) {
  const ok = (user: TestUser, query: string, variables: Record<string, unknown>) => gqlOk(url(), query, variables, user.accessToken);
  const live = (user: TestUser) => {
    const client = wsClient(wsUrl(), user.accessToken);
    opened.push(client);
    return subscribe(client, MY_EVENTS);
  };
  const warm = async (subs: Subscription[], readers: TestUser[], room: string, actor: TestUser) => {
    for (const sub of subs) await untilReceived(sub, () => ok(actor, SEND, { r: room, c: "warm-up" }));
    const last = (await ok(actor, LAST, { r: room })).room.lastMessage.id;
    for (const reader of readers) await ok(reader, MARK_READ, { r: room, m: last });
  };
  return { ok, live, warm };
}

describe("RoomActivity on myEvents (one node)", () => {
  const opened: { dispose(): unknown }[] = [];
  const { server, users } = useTestServer(["ann", "ben", "cat", "dan"]);
  const [ann, ben, cat, dan] = users;
  const { ok, live, warm } = helpers(
    () => server.url,
    () => server.wsUrl,
    opened,
  );
  afterAll(() => Promise.all(opened.map((c) => c.dispose())));

  it("reaches every socket of the viewer once, for a room they do not follow, with the unread count; the sender's sockets too", async () => {
    const room = (await ok(ann, CREATE, { n: "team", t: "GROUP", m: [ben.id, cat.id] })).createRoom.id;
    const [phone, laptop, bens] = [live(ann), live(ann), live(ben)];
    await warm([phone, laptop, bens], [ann], room, cat);
    const first = (await ok(cat, SEND, { r: room, c: "one" })).sendMessage.id;
    await ok(cat, SEND, { r: room, c: "two" });
    for (const sub of [phone, laptop]) {
      expect(activity(await sub.nextWhere(about("one")))).toMatchObject({
        roomId: room,
        room: { id: room },
        unreadCount: 1,
        message: { id: first, content: "one", sender: { id: cat.id } },
      });
      expect(activity(await sub.nextWhere(about("two")))?.unreadCount).toBe(2);
      // once: nothing else about these two messages
      await expect(sub.nextWhere((e) => ["one", "two"].includes(activity(e)?.message?.content ?? ""), 300)).rejects.toThrow();
    }
    // ben sends: his own event says 0 unread (sending moves his read marker)
    await ok(ben, SEND, { r: room, c: "mine" });
    expect(activity(await bens.nextWhere(about("mine")))?.unreadCount).toBe(0);
  });

  it("gives a muted room's count without the message", async () => {
    const room = (await ok(ann, CREATE, { n: "muted", t: "GROUP", m: [ben.id] })).createRoom.id;
    const sub = live(ben);
    await warm([sub], [ben], room, ann);
    await ok(ben, `mutation($r: ID!) { muteRoom(roomId: $r) { id } }`, { r: room });
    await ok(ann, SEND, { r: room, c: "quiet" });
    const event = activity(await sub.nextWhere((e) => activity(e)?.roomId === room && activity(e)?.unreadCount === 1));
    expect(event).toMatchObject({ roomId: room, unreadCount: 1, message: null });
  });

  it("sends nothing for a message from a user the viewer blocked, nor after the viewer left or was removed", async () => {
    const room = (await ok(ann, CREATE, { n: "blocks", t: "GROUP", m: [ben.id, cat.id, dan.id] })).createRoom.id;
    const [cats, dans] = [live(cat), live(dan)];
    await warm([cats, dans], [cat, dan], room, ann);
    await ok(cat, `mutation($u: ID!) { blockUser(userId: $u) }`, { u: ben.id });
    await ok(ben, SEND, { r: room, c: "from ben" });
    await ok(ann, `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`, { r: room, u: dan.id });
    await ok(ann, SEND, { r: room, c: "from ann" });
    // cat: ann's message is the first thing of this room after the warm-up, ben's never came
    const next = await cats.nextWhere((e) => activity(e)?.roomId === room && activity(e)?.message?.content !== "warm-up");
    expect(activity(next)?.message?.content).toBe("from ann");
    // dan: ben's message (before the removal), then RemovedFromRoom, then nothing of the room
    await dans.nextWhere(about("from ben"));
    await dans.nextWhere((e) => e.data?.myEvents.__typename === "RemovedFromRoom");
    await expect(dans.nextWhere((e) => activity(e)?.roomId === room, 500)).rejects.toThrow();
  });

  it("follows rooms the viewer joins or opens after subscribing", async () => {
    const sub = live(dan);
    // live: ann's new DIRECT room with dan announces itself, and its messages follow
    const direct = (await ok(ann, `mutation($u: ID!) { directRoom(userId: $u) { id } }`, { u: dan.id })).directRoom.id;
    await sub.nextWhere((e) => e.data?.myEvents.__typename === "DirectRoomCreated");
    await ok(ann, SEND, { r: direct, c: "hi dan" });
    expect(activity(await sub.nextWhere(about("hi dan")))).toMatchObject({ roomId: direct, unreadCount: 1 });
    // a PUBLIC room dan joins himself, and one he creates
    const open = (await ok(ann, CREATE, { n: "open", t: "PUBLIC", m: [] })).createRoom.id;
    await ok(dan, `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`, { r: open });
    const own = (await ok(dan, CREATE, { n: "own", t: "GROUP", m: [ann.id] })).createRoom.id;
    await ok(ann, SEND, { r: open, c: "in open" });
    await ok(ann, SEND, { r: own, c: "in own" });
    expect(activity(await sub.nextWhere(about("in open")))?.roomId).toBe(open);
    expect(activity(await sub.nextWhere(about("in own")))?.roomId).toBe(own);
  });

  it("registers a room once per node and reads storage once per message, however many viewers and sockets", async () => {
    const room = (await ok(ann, CREATE, { n: "shared", t: "GROUP", m: [ben.id, cat.id, dan.id] })).createRoom.id;
    const subs = [live(ann), live(ben), live(cat), live(dan), live(dan)];
    await warm(subs, [], room, ann);
    const store = server.app.activity.store as { recipients: (...args: never[]) => Promise<unknown> };
    const original = store.recipients;
    let reads = 0;
    store.recipients = (...args) => {
      reads++;
      return original(...args);
    };
    const rooms = server.app.activity.roomCount;
    const counter = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values[0]?.value ?? 0;
    const { sharedExecutions, sharedResults } = server.app.metrics;
    try {
      const [executions, results] = [await counter(sharedExecutions), await counter(sharedResults)];
      await ok(ann, SEND, { r: room, c: "counted" });
      const got = await Promise.all(subs.map((s) => s.nextWhere(about("counted"))));
      expect(reads).toBe(1);
      // ben, cat and dan's two sockets have the same unread count: one execution for the four (ann's is apart)
      expect(new Set(got.map((e) => activity(e)!.unreadCount)).size).toBe(2);
      expect((await counter(sharedResults)) - results).toBeGreaterThanOrEqual(5);
      expect((await counter(sharedExecutions)) - executions).toBeLessThan((await counter(sharedResults)) - results);
      // a new socket of a viewer already here adds no registration
      const again = live(ben);
      await untilReceived(again, () => ok(ann, SEND, { r: room, c: "again" }));
      expect(server.app.activity.roomCount).toBe(rooms);
    } finally {
      store.recipients = original;
    }
  });
});

describe("RoomActivity in a room above ACTIVITY_COALESCE_ABOVE", () => {
  const opened: { dispose(): unknown }[] = [];
  const { server, users } = useTestServer(["eve", "fay", "gus", "hal"], {
    env: { ACTIVITY_COALESCE_ABOVE: "3", ACTIVITY_COALESCE_MS: "400" },
  });
  const [eve, fay, gus, hal] = users;
  const { ok, live, warm } = helpers(
    () => server.url,
    () => server.wsUrl,
    opened,
  );
  afterAll(() => Promise.all(opened.map((c) => c.dispose())));

  it("gives at most one event per window, the last with the newest message and count", async () => {
    const room = (await ok(eve, CREATE, { n: "big", t: "GROUP", m: [fay.id, gus.id, hal.id] })).createRoom.id;
    const sub = live(fay);
    await warm([sub], [fay], room, eve);
    sub.drain();
    const started = Date.now();
    for (let i = 1; i <= 8; i++) await ok(eve, SEND, { r: room, c: `burst ${i}` });
    const sending = Date.now() - started;
    const seen: Activity[] = [];
    while (seen.at(-1)?.message?.content !== "burst 8") {
      const event = activity(await sub.next(5000));
      if (event && event.roomId === room && event.message?.content.startsWith("burst")) seen.push(event);
    }
    // and nothing more after the newest one
    await expect(sub.nextWhere((e) => activity(e)?.roomId === room, 800)).rejects.toThrow();
    expect(seen.at(-1)!.unreadCount).toBe(8);
    // one event at a window's start, then one per 400 ms window at most
    expect(seen.length).toBeLessThan(8);
    expect(seen.length).toBeLessThanOrEqual(2 + Math.ceil(sending / 400));
  });
});

describe("RoomActivity across two nodes sharing PostgreSQL and Redis", () => {
  const {
    nodes: [a, b],
  } = useNodes(2);
  let ann: TestUser, ben: TestUser, cat: TestUser;
  const opened: { dispose(): unknown }[] = [];

  beforeAll(async () => {
    [ann, ben, cat] = await Promise.all([registerUser(a.url, "ann"), registerUser(b.url, "ben"), registerUser(a.url, "cat")]);
  });
  afterAll(() => Promise.all(opened.map((c) => c.dispose())));

  it("reaches each socket once, on either node, for a message sent through either", async () => {
    const onA = helpers(
      () => a.url,
      () => a.wsUrl,
      opened,
    );
    const onB = helpers(
      () => b.url,
      () => b.wsUrl,
      opened,
    );
    const room = (await onA.ok(ann, CREATE, { n: "across", t: "GROUP", m: [ben.id, cat.id] })).createRoom.id;
    // ann on both nodes (twice on A), ben on B
    const anns = [onA.live(ann), onA.live(ann), onB.live(ann)];
    const bens = onB.live(ben);
    await onA.warm([...anns, bens], [ann, ben], room, cat);
    const contents = ["via A", "via B", "via A again"];
    await onA.ok(cat, SEND, { r: room, c: contents[0]! });
    await onB.ok(cat, SEND, { r: room, c: contents[1]! });
    await onA.ok(cat, SEND, { r: room, c: contents[2]! });
    for (const sub of [...anns, bens]) {
      const got: Activity[] = [];
      while (got.length < contents.length) {
        const event = activity(await sub.next(5000));
        if (event && contents.includes(event.message?.content ?? "")) got.push(event);
      }
      expect(got.map((e) => [e.message!.content, e.unreadCount])).toEqual([
        [contents[0], 1],
        [contents[1], 2],
        [contents[2], 3],
      ]);
      // no duplicate from the other node
      await expect(sub.nextWhere((e) => contents.includes(activity(e)?.message?.content ?? ""), 500)).rejects.toThrow();
    }
  }, 60_000);
});
