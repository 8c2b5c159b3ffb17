/**
 * Room activity on `myEvents`: for a new message in any of a viewer's rooms, one
 * RoomActivity event per viewer subscription with the room, the message (null for
 * a muted room) and the viewer's unread count, delivered by the node the viewer's
 * socket is on, with no per-member pub/sub traffic:
 *
 * 1. A node keeps one {@link ActivityViewer} per user with `myEvents` subscriptions
 *    on it (one listener on the user's topic, however many sockets) and one
 *    {@link ActivityRoom} per room of those users (one listener on the room's
 *    `messageAdded` topic, the one sendMessage already publishes: nothing new is
 *    published per message).
 * 2. A message reaches each node once (the bus), so each room entry handles it once
 *    per node: a seq at or below the last one taken on is dropped (a duplicate, or a
 *    message a newer one overtook between nodes: the newer one's count covers it).
 * 3. The node asks storage once for the message ({@link ActivityStore.recipients}):
 *    which of its own viewers of the room are members now and have not blocked the
 *    sender, with their unread count and mute. Then it hands each viewer's
 *    subscriptions their event: every socket of the user gets it once, from the node
 *    it is on. A room's messages are handled one after the other, in seq order.
 * 4. In a room of more than `coalesceAbove` members, events are coalesced: the first
 *    message is handled at once, and then at most one per `coalesceMs` window, the
 *    newest message of the window (counts are read when it is handled).
 * 5. A viewer's rooms are read when its first subscription opens (after its user
 *    topic listens, so no change is missed) and follow its membership events
 *    ({@link MembershipPayload}, AddedToRoom, DirectRoomCreated, RemovedFromRoom).
 *    A room the viewer left but is still registered costs only its listener: step 3
 *    finds no membership and sends nothing.
 * 6. `myEvents(after: <sync cursor>)` hands over from a replay to live with no gap
 *    and no duplicate ({@link RoomActivity.open} with `after`): the feed listens
 *    first (steps 1 and 5, its live items held), then ONE read under one snapshot S2
 *    ({@link ActivityStore.replay}) gives what happened after the cursor and is
 *    visible in S2, and each room's newest seq in S2; the feed hands out the replay,
 *    then the held and later live items the replay does not cover (a user event by
 *    its log row's id, `logId`; a RoomActivity by its seq, as step 2 does for a room).
 *    Everything committed after S2 is published after the feed listened: it comes live.
 */
import type { PubSubEngine } from "graphql-subscriptions";
import type { SyncPosition } from "../sync/cursor.js";
import { type MembershipPayload, type MessageAddedPayload, type MessageJson, topics, type UserEventPayload } from "./topics.js";

/** A viewer's row for one message: see {@link ActivityStore.recipients}. */
export interface ActivityRecipient {
  userId: string;
  /** The viewer's unread messages in the room as of the message: its seq minus their read marker (≥ 0). */
  unreadCount: number;
  /** The viewer has muted the room (RoomMember.mutedUntil in the future). */
  muted: boolean;
}

/** What the hub reads from storage; each is one SQL statement. */
export interface ActivityStore {
  /** The ids of the rooms `userId` is a member of now. */
  roomIdsOf(userId: string): Promise<string[]>;
  /**
   * For a message of seq `seq` sent by `senderId` in `roomId`: those of `viewerIds`
   * who are members of the room now and have not blocked the sender, and the room's
   * member count (for the coalescing rule).
   */
  recipients(
    roomId: string,
    senderId: string,
    seq: number,
    viewerIds: readonly string[],
  ): Promise<{ memberCount: number; recipients: ActivityRecipient[] }>;
  /**
   * What `userId`'s myEvents(after:) replays since `snapshot` (a sync cursor's
   * pg_snapshot text), read under ONE snapshot of its own (step 6 of the module comment).
   */
  replay(userId: string, snapshot: string): Promise<ActivityReplay>;
}

/** What {@link ActivityStore.replay} reads, all in one snapshot S2. */
export interface ActivityReplay {
  /** The user's logged events written after the cursor, oldest first, each with its `logId`. */
  events: UserEventPayload[];
  /** A RoomActivity for each of the user's rooms with messages written after the cursor (its newest one the user may see). */
  activity: RoomActivityPayload[];
  /** Each room of the user's: its newest message seq (Room.lastSeq) in S2. A live message at or below it is covered. */
  heads: Record<string, number>;
}

/** The coalescing rule (config ACTIVITY_COALESCE_ABOVE, ACTIVITY_COALESCE_MS). */
export interface ActivityOptions {
  /** Rooms with more members than this get at most one event per window. */
  coalesceAbove: number;
  /** The window, in ms. */
  coalesceMs: number;
}

/** A RoomActivity event for one viewer: `message` null when they muted the room. */
export interface RoomActivityPayload {
  kind: "RoomActivity";
  roomId: string;
  message: MessageJson | null;
  /** The room's message seq the event is as of (the message's, even when `message` is null: muted). */
  seq: number;
  unreadCount: number;
  at: string;
}

/** What a `myEvents` subscription yields: the user's events and room activity. */
export type MyEventsItem = UserEventPayload | RoomActivityPayload;

/** A node's room activity: see the module comment. One per node (App.activity). */
export class RoomActivity {
  private readonly viewers = new Map<string, ActivityViewer>();
  private readonly rooms = new Map<string, ActivityRoom>();

  /** `onError`: a failed storage read or registration (logged; the events of that message are lost, like a lost publish). */
  constructor(
    readonly pubsub: PubSubEngine,
    readonly store: ActivityStore,
    readonly options: ActivityOptions,
    readonly onError: (err: unknown) => void,
  ) {}

  /**
   * A `myEvents` subscription of `userId`: their user events and their rooms'
   * activity, from when it resolves (its user topic listens, its rooms are read and
   * registered). With `after` (a sync cursor, src/sync/cursor.ts) it first hands
   * out what happened after it (step 6 of the module comment). `return()` ends it.
   * @throws whatever the rooms' read, the replay's read or the bus' subscribe throws (nothing is left registered).
   */
  async open(userId: string, after: SyncPosition | null = null): Promise<ActivityFeed> {
    let viewer = this.viewers.get(userId);
    if (!viewer) {
      viewer = new ActivityViewer(this, userId);
      this.viewers.set(userId, viewer);
    }
    const feed = new ActivityFeed(viewer);
    viewer.feeds.add(feed);
    try {
      await viewer.ready;
      if (after) feed.resume(await this.store.replay(userId, after.snapshot));
    } catch (e) {
      feed.close();
      throw e;
    }
    return feed;
  }

  /** Adds `viewer` to the room's entry, made (and listening) on first use. */
  watch(roomId: string, viewer: ActivityViewer): Promise<void> {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new ActivityRoom(this, roomId);
      this.rooms.set(roomId, room);
    }
    room.viewers.add(viewer.userId);
    return room.ready;
  }

  /** Takes `viewer` off the room's entry; the last one to go stops it. */
  unwatch(roomId: string, viewer: ActivityViewer): void {
    const room = this.rooms.get(roomId);
    if (!room?.viewers.delete(viewer.userId) || room.viewers.size > 0) return;
    this.rooms.delete(roomId);
    room.stop();
  }

  /** Stops `room` and forgets it (its listener could not start), unless another entry has taken its place. */
  drop(room: ActivityRoom): void {
    room.stop();
    if (this.rooms.get(room.roomId) === room) this.rooms.delete(room.roomId);
  }

  /** `viewer` has no subscription left on this node. */
  forget(viewer: ActivityViewer): void {
    if (this.viewers.get(viewer.userId) === viewer) this.viewers.delete(viewer.userId);
  }

  /**
   * Hands each recipient's event to their subscriptions on this node. Recipients with
   * the same count and mute get the same event object, so a viewer-independent
   * selection is executed and serialized once per distinct event, not per viewer
   * (realtime/shared-execution.ts keys its memo by the event object).
   */
  handOut(roomId: string, message: MessageJson, recipients: readonly ActivityRecipient[]): void {
    const at = new Date().toISOString();
    const events = new Map<string, RoomActivityPayload>();
    for (const r of recipients) {
      const viewer = this.viewers.get(r.userId);
      if (!viewer) continue;
      const key = `${r.muted}:${r.unreadCount}`;
      let event = events.get(key);
      if (!event)
        events.set(
          key,
          (event = { kind: "RoomActivity", roomId, message: r.muted ? null : message, seq: message.seq, unreadCount: r.unreadCount, at }),
        );
      for (const feed of viewer.feeds) feed.push(event);
    }
  }

  /** The number of rooms this node listens to for room activity (tests, metrics). */
  get roomCount(): number {
    return this.rooms.size;
  }
}

/** One user with `myEvents` subscriptions on this node: their user-topic listener and rooms. */
class ActivityViewer {
  readonly feeds = new Set<ActivityFeed>();
  private readonly roomIds = new Set<string>();
  /** Resolves once the user topic listens and the rooms are registered; rejects if that failed. */
  readonly ready: Promise<void>;
  private subscription: number | undefined;
  private stopped = false;

  constructor(
    private readonly hub: RoomActivity,
    readonly userId: string,
  ) {
    this.ready = this.start();
    this.ready.catch(() => this.stop());
  }

  private async start(): Promise<void> {
    const id = await this.hub.pubsub.subscribe(
      topics.userEvents(this.userId),
      (e: UserEventPayload | MembershipPayload) => this.receive(e),
      {},
    );
    if (this.stopped) return this.hub.pubsub.unsubscribe(id);
    this.subscription = id;
    const roomIds = await this.hub.store.roomIdsOf(this.userId);
    if (this.stopped) return;
    await Promise.all(roomIds.map((id) => this.join(id)));
  }

  private receive(event: UserEventPayload | MembershipPayload): void {
    if (event.kind === "Membership")
      return void (event.joined ? this.join(event.roomId).catch(this.hub.onError) : this.leave(event.roomId));
    if (event.kind === "AddedToRoom" || event.kind === "DirectRoomCreated") void this.join(event.roomId).catch(this.hub.onError);
    // a hidden DIRECT room is still theirs, and its next message shows it again
    if (event.kind === "RemovedFromRoom" && event.reason !== "HIDDEN") this.leave(event.roomId);
    for (const feed of this.feeds) feed.push(event);
  }

  private join(roomId: string): Promise<void> {
    if (this.stopped || this.roomIds.has(roomId)) return Promise.resolve();
    this.roomIds.add(roomId);
    return this.hub.watch(roomId, this);
  }

  private leave(roomId: string): void {
    if (this.roomIds.delete(roomId)) this.hub.unwatch(roomId, this);
  }

  /** `feed` has ended; the last one stops the viewer. */
  remove(feed: ActivityFeed): void {
    this.feeds.delete(feed);
    if (this.feeds.size === 0) this.stop();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.hub.forget(this);
    if (this.subscription !== undefined) this.hub.pubsub.unsubscribe(this.subscription);
    for (const roomId of this.roomIds) this.hub.unwatch(roomId, this);
    this.roomIds.clear();
  }
}

/** One room with viewers on this node: its listener, the last seq handled, the coalescing window. */
class ActivityRoom {
  /** The users (with subscriptions on this node) whose room this is. */
  readonly viewers = new Set<string>();
  readonly ready: Promise<void>;
  private subscription: number | undefined;
  private stopped = false;
  /** The seq of the newest message taken on (handled, or queued to be). */
  private last = 0;
  /** The member count the last read found (0: not read yet, not coalesced). */
  private memberCount = 0;
  /** The room's messages are handled one after the other: the tail of that chain. */
  private queue: Promise<void> = Promise.resolve();
  /** While a coalescing window is open: its timer, and the newest message that came in it. */
  private window: NodeJS.Timeout | undefined;
  private pending: MessageJson | undefined;

  constructor(
    private readonly hub: RoomActivity,
    readonly roomId: string,
  ) {
    this.ready = this.start();
    this.ready.catch(() => hub.drop(this));
  }

  private async start(): Promise<void> {
    const id = await this.hub.pubsub.subscribe(topics.messageAdded(this.roomId), (p: MessageAddedPayload) => this.receive(p.message), {});
    if (this.stopped) this.hub.pubsub.unsubscribe(id);
    else this.subscription = id;
  }

  private receive(message: MessageJson): void {
    if (this.stopped || message.seq <= this.last) return;
    this.last = message.seq;
    if (this.memberCount <= this.hub.options.coalesceAbove) this.enqueue(message);
    else if (this.window) this.pending = message;
    else {
      this.enqueue(message);
      this.openWindow();
    }
  }

  /** A window: at its end, the newest message that came in it is handled and the next window opens. */
  private openWindow(): void {
    this.window = setTimeout(() => {
      this.window = undefined;
      const message = this.pending;
      this.pending = undefined;
      if (!message || this.stopped) return;
      this.enqueue(message);
      this.openWindow();
    }, this.hub.options.coalesceMs);
    this.window.unref();
  }

  private enqueue(message: MessageJson): void {
    this.queue = this.queue.then(() => this.handle(message)).catch(this.hub.onError);
  }

  /** Step 3 of the module comment: one read, then the hand-out. */
  private async handle(message: MessageJson): Promise<void> {
    if (this.stopped || this.viewers.size === 0) return;
    const { memberCount, recipients } = await this.hub.store.recipients(this.roomId, message.senderId, message.seq, [...this.viewers]);
    this.memberCount = memberCount;
    this.hub.handOut(this.roomId, message, recipients);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.window);
    if (this.subscription !== undefined) this.hub.pubsub.unsubscribe(this.subscription);
  }
}

/**
 * One `myEvents` subscription: a queue its viewer pushes to, read by graphql-ws or
 * Yoga (SSE) as an async iterator. A class: every idle subscriber keeps one.
 */
export class ActivityFeed implements AsyncIterableIterator<MyEventsItem> {
  private readonly queue: MyEventsItem[] = [];
  private waiting: ((result: IteratorResult<MyEventsItem>) => void) | null = null;
  private closed = false;
  /** After {@link resume}: the replay's user events (by logId) and each room's newest seq it covered. */
  private covered: { logIds: Set<string>; heads: Map<string, number> } | null = null;

  constructor(private readonly viewer: ActivityViewer) {}

  /** Queues `item`, or hands it to the waiting `next()`; drops what the replay covered. */
  push(item: MyEventsItem): void {
    if (this.closed || this.replayed(item)) return;
    const resolve = this.waiting;
    this.waiting = null;
    if (resolve) resolve({ done: false, value: item });
    else this.queue.push(item);
  }

  /**
   * Puts `replay` first, before the feed has a reader: the live items queued since
   * it opened that the replay covers are dropped, and so are those that come later
   * (a publish may arrive after the read that saw its commit).
   */
  resume(replay: ActivityReplay): void {
    this.covered = { logIds: new Set(replay.events.map((e) => e.logId!)), heads: new Map(Object.entries(replay.heads)) };
    const live = this.queue.splice(0).filter((item) => !this.replayed(item));
    this.queue.push(...replay.events, ...replay.activity, ...live);
  }

  /** Whether the replay handed out `item` already (or, for a room, a newer state of it). */
  private replayed(item: MyEventsItem): boolean {
    if (!this.covered) return false;
    if (item.kind === "RoomActivity") return item.seq <= (this.covered.heads.get(item.roomId) ?? 0);
    return item.logId !== undefined && this.covered.logIds.has(item.logId);
  }

  next(): Promise<IteratorResult<MyEventsItem>> {
    const item = this.queue.shift();
    if (item) return Promise.resolve({ done: false, value: item });
    if (this.closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async return(): Promise<IteratorResult<MyEventsItem>> {
    this.close();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the subscription and leaves its viewer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.viewer.remove(this);
    this.waiting?.({ done: true, value: undefined });
    this.waiting = null;
  }
}
