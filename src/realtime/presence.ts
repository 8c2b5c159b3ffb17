import type { PubSubEngine } from "graphql-subscriptions";
import type { PresenceStore } from "./presence-store.js";
import { type PresencePayload, type PresenceStatus, topics } from "./topics.js";

/** What presence needs from the rest of the app: a user's rooms, and recording when they were last seen. */
export interface PresenceDirectory {
  roomIdsOf(userId: string): Promise<string[]>;
  /** Stores and returns the user's lastSeenAt. */
  touchLastSeen(userId: string, at: Date): Promise<Date>;
}

/**
 * Tracks this node's graphql-ws connections and publishes a PresenceEvent to
 * every room of a user when they go ONLINE (first connection on any node) or
 * OFFLINE (last one closed, or its node died and the TTL ran out).
 * `intervalMs` is how often heartbeats and sweeps run (ttl/3).
 */
export class Presence {
  /** connection id → user id, for this node's open connections */
  private readonly local = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: PresenceStore,
    private readonly pubsub: PubSubEngine,
    private readonly directory: PresenceDirectory,
    intervalMs: number,
    onError: (err: unknown) => void,
  ) {
    this.timer = setInterval(() => this.tick().catch(onError), intervalMs).unref();
  }

  /** A connection of `userId` opened on this node. */
  async connected(userId: string, connId: string): Promise<void> {
    this.local.set(connId, userId);
    if (await this.store.connect(userId, connId)) await this.announce(userId, "ONLINE");
  }

  /** A connection of `userId` closed on this node. */
  async disconnected(userId: string, connId: string): Promise<void> {
    this.local.delete(connId);
    if (await this.store.disconnect(userId, connId)) await this.announce(userId, "OFFLINE");
  }

  /** The current status of each of `userIds` (ONLINE or OFFLINE). */
  async statuses(userIds: readonly string[]): Promise<Map<string, PresenceStatus>> {
    const online = await this.store.online(userIds);
    return new Map(userIds.map((id) => [id, online.has(id) ? "ONLINE" : "OFFLINE"]));
  }

  /** Closes this node's connections in the store (graceful shutdown) and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.local].map(([connId, userId]) => this.disconnected(userId, connId)));
  }

  private async tick(): Promise<void> {
    await this.store.heartbeat(this.local);
    for (const userId of await this.store.sweep()) await this.announce(userId, "OFFLINE");
  }

  private async announce(userId: string, status: PresenceStatus): Promise<void> {
    const lastSeenAt = await this.directory.touchLastSeen(userId, new Date());
    const payload: PresencePayload = { userId, status, lastSeenAt: lastSeenAt.toISOString() };
    const rooms = await this.directory.roomIdsOf(userId);
    await Promise.all(rooms.map((roomId) => this.pubsub.publish(topics.presence(roomId), payload)));
  }
}
