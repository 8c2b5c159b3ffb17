import { PubSub } from "graphql-subscriptions";
import { describe, expect, it } from "vitest";
import {
  type ActivityFeed,
  type ActivityReplay,
  type ActivityStore,
  type MyEventsItem,
  RoomActivity,
  type RoomActivityPayload,
} from "../src/realtime/room-activity.js";
import { type MessageJson, topics } from "../src/realtime/topics.js";

/**
 * The room activity hub's rules on a real in-process pub/sub, with publishes in an
 * order the test chooses. The store is a map standing for the memberships (every
 * member has read nothing): what a node reads per message is counted.
 */
describe("room activity hub", () => {
  function node(members: Record<string, string[]>, options = { coalesceAbove: 100, coalesceMs: 50 }) {
    const pubsub = new PubSub();
    const reads: string[] = [];
    /** What each myEvents(after:) open's replay read does, in turn. */
    const replays: (() => Promise<ActivityReplay>)[] = [];
    const store: ActivityStore = {
      roomIdsOf: async (userId) => Object.keys(members).filter((room) => members[room]!.includes(userId)),
      recipients: async (roomId, _senderId, seq, viewerIds) => {
        reads.push(`${roomId}#${seq}`);
        const inRoom = members[roomId] ?? [];
        return {
          memberCount: inRoom.length,
          recipients: viewerIds.filter((id) => inRoom.includes(id)).map((userId) => ({ userId, unreadCount: seq, muted: false })),
        };
      },
      replay: async () => replays.shift()!(),
    };
    const errors: unknown[] = [];
    const hub = new RoomActivity(pubsub, store, options, (e) => errors.push(e));
    const message = (roomId: string, seq: number) =>
      ({ id: `${roomId}-${seq}`, roomId, seq, senderId: "sender", content: `m${seq}` }) as unknown as MessageJson;
    const publish = (roomId: string, seq: number) => pubsub.publish(topics.messageAdded(roomId), { message: message(roomId, seq) });
    return { pubsub, hub, reads, errors, publish, replays };
  }

  /** A feed's `next()` still pending when {@link queued} stopped waiting: the next call takes it up. */
  const pending = new WeakMap<ActivityFeed, Promise<IteratorResult<MyEventsItem>>>();
  /** The items `feed` has had since the last call, waiting 20 ms for each. */
  async function queued(feed: ActivityFeed): Promise<MyEventsItem[]> {
    const items: MyEventsItem[] = [];
    for (;;) {
      const next = pending.get(feed) ?? feed.next();
      pending.set(feed, next);
      const result = await Promise.race([next, new Promise<null>((resolve) => setTimeout(() => resolve(null), 20))]);
      if (result === null) return items;
      pending.delete(feed);
      if (result.done) return items;
      items.push(result.value);
    }
  }
  const seqs = (items: MyEventsItem[]) => items.map((i) => (i as RoomActivityPayload).message?.seq);

  it("registers a room once, reads once per message for every viewer and socket, and drops duplicates and overtaken seqs", async () => {
    const { hub, reads, publish } = node({ r: ["ann", "ben"] });
    const feeds = [await hub.open("ann"), await hub.open("ann"), await hub.open("ben")];
    expect(hub.roomCount).toBe(1);
    await publish("r", 2);
    await publish("r", 1);
    await publish("r", 2);
    await publish("r", 3);
    for (const feed of feeds) expect(seqs(await queued(feed))).toEqual([2, 3]);
    expect(reads).toEqual(["r#2", "r#3"]);
    // viewers with the same count share one event object
    await publish("r", 4);
    const [a, b] = [await queued(feeds[0]!), await queued(feeds[2]!)];
    expect(seqs(a)).toEqual([4]);
    expect(a[0]).toBe(b[0]);
  });

  it("coalesces a room above the threshold: the first message at once, then the newest of each window", async () => {
    const { hub, reads, publish } = node({ big: ["ann", "b", "c", "d"] }, { coalesceAbove: 3, coalesceMs: 50 });
    const feed = await hub.open("ann");
    // the first read learns the room's size
    await publish("big", 1);
    expect(seqs(await queued(feed))).toEqual([1]);
    for (let seq = 2; seq <= 10; seq++) await publish("big", seq);
    // over the next windows: 2 at once (it opened the window), then 10 (the newest in it), then nothing
    const items: MyEventsItem[] = [];
    for (const until = Date.now() + 300; Date.now() < until; ) items.push(...(await queued(feed)));
    expect(seqs(items)).toEqual([2, 10]);
    expect(reads).toEqual(["big#1", "big#2", "big#10"]);
  });

  it("follows membership on the user's topic, passes user events through, and lets go of everything when the last feed ends", async () => {
    const { pubsub, hub, publish } = node({ r: ["ann"], s: ["ann"] });
    const feed = await hub.open("ann");
    await pubsub.publish(topics.userEvents("ann"), { kind: "Membership", roomId: "s", joined: false, at: "" });
    await pubsub.publish(topics.userEvents("ann"), { kind: "AddedToRoom", roomId: "t", byId: null, at: "" });
    expect(hub.roomCount).toBe(2);
    await publish("s", 1);
    const items = await queued(feed);
    expect(items.map((i) => i.kind)).toEqual(["AddedToRoom"]);
    await feed.return();
    expect(hub.roomCount).toBe(0);
    await publish("r", 1);
    expect(await queued(feed)).toEqual([]);
  });

  it("keeps a hidden DIRECT room (RemovedFromRoom HIDDEN) registered: its next message shows it again", async () => {
    const { pubsub, hub, publish } = node({ d: ["ann"] });
    const feed = await hub.open("ann");
    await pubsub.publish(topics.userEvents("ann"), {
      kind: "RemovedFromRoom",
      roomId: "d",
      roomName: null,
      reason: "HIDDEN",
      byId: "ann",
      at: "",
    });
    expect(hub.roomCount).toBe(1);
    await publish("d", 1);
    expect((await queued(feed)).map((i) => i.kind)).toEqual(["RemovedFromRoom", "RoomActivity"]);
  });

  it("myEvents(after:): the replay first, then live items it does not cover, each once, whenever the live copy arrives", async () => {
    const { pubsub, hub, publish, replays } = node({ r: ["ann"], s: ["ann"] });
    const user = (logId: string) =>
      pubsub.publish(topics.userEvents("ann"), { kind: "InviteReceived", inviteId: `i${logId}`, at: "", logId });
    const replayed: ActivityReplay = {
      events: [
        { kind: "InviteReceived", inviteId: "i1", at: "", logId: "1" },
        { kind: "InviteReceived", inviteId: "i3", at: "", logId: "3" },
      ],
      activity: [{ kind: "RoomActivity", roomId: "r", message: null, seq: 5, unreadCount: 5, at: "" }],
      heads: { r: 5, s: 2 },
    };
    // while the replay is being read, live copies of what it holds (logId 1, r#5, s#2) and newer items (logId 2, r#6, s#3) arrive
    replays.push(async () => {
      await user("1");
      await user("2");
      await publish("r", 5);
      await publish("r", 6);
      await publish("s", 2);
      await publish("s", 3);
      await new Promise((resolve) => setTimeout(resolve, 20)); // the rooms' reads are done: their events are queued
      return replayed;
    });
    const feed = await hub.open("ann", { snapshot: "1:1:", at: Date.now() });
    // a replayed event's live copy may come after the replay was read
    await user("3");
    await user("4");
    const items = await queued(feed);
    const label = (i: MyEventsItem) => (i.kind === "RoomActivity" ? `${i.roomId}#${i.seq}` : `log ${i.logId}`);
    expect(items.map(label)).toEqual(["log 1", "log 3", "r#5", "log 2", "r#6", "s#3", "log 4"]);
    // a subscription without `after` on the same viewer is not filtered
    const plain = await hub.open("ann");
    await user("1");
    expect((await queued(plain)).map(label)).toEqual(["log 1"]);
    expect(await queued(feed)).toEqual([]);
  });
});
