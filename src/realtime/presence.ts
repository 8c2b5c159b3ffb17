import type { PubSubEngine } from "graphql-subscriptions";
import type { PresenceStore } from "./presence-store.js";
import { type PresencePayload, type PresenceStatus, topics } from "./topics.js";

/** A user's presence choices, as presence needs them for an announcement. */
export interface PresenceProfile {
  /** showOnlineStatus: false → always OFFLINE to others. */
  visible: boolean;
  /** The user chose AWAY. */
  away: boolean;
  /** Users this user blocked: they get no presence events of this user. */
  blockedIds: string[];
  lastSeenAt: Date | null;
}

/** What presence needs from the rest of the app: a user's rooms, privacy choices, and recording when they were last seen. */
export interface PresenceDirectory {
  /** The rooms of `userId`; only those shared with `sharedWith` when given. */
  roomIdsOf(userId: string, sharedWith?: string): Promise<string[]>;
  profileOf(userId: string): Promise<PresenceProfile>;
  /** Stores and returns the user's lastSeenAt. */
  touchLastSeen(userId: string, at: Date): Promise<Date>;
}

/**
 * Tracks this node's graphql-ws connections and publishes a PresenceEvent to
 * every room of a user when they go ONLINE (first connection on any node) or
 * OFFLINE (last one closed, or its node died and the TTL ran out), and when their
 * visible status changes (AWAY chosen, showOnlineStatus toggled: {@link refresh};
 * a block: {@link hideFrom}, {@link showTo}).
 * A user with showOnlineStatus off is never announced as connected.
 * `intervalMs` is how often heartbeats and sweeps run (ttl/3).
 */
export class Presence {
  /** connection id → user id, for this node's open connections */
  private readonly local = new Map<string, string>();
  /** Connects and disconnects in progress (see close). */
  private readonly inFlight = new Set<Promise<void>>();
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
  connected(userId: string, connId: string): Promise<void> {
    this.local.set(connId, userId);
    return this.track(async () => {
      if (await this.store.connect(userId, connId)) await this.announce(userId, true, false);
    });
  }

  /** A connection of `userId` closed on this node. */
  disconnected(userId: string, connId: string): Promise<void> {
    this.local.delete(connId);
    return this.track(async () => {
      if (await this.store.disconnect(userId, connId)) await this.announce(userId, false, false);
    });
  }

  /** Announces `userId`'s visible status again after their presence choices changed (AWAY, showOnlineStatus). */
  async refresh(userId: string): Promise<void> {
    const connected = (await this.store.online([userId])).has(userId);
    if (connected) await this.announce(userId, true, true);
  }

  /** Tells `viewerId` only that `userId` is OFFLINE, in their shared rooms: `userId` blocked them. */
  async hideFrom(userId: string, viewerId: string): Promise<void> {
    await this.publish(userId, { userId, status: "OFFLINE", lastSeenAt: null, hiddenFrom: [], onlyFor: [viewerId] }, viewerId);
  }

  /** Tells `viewerId` only `userId`'s visible status again, in their shared rooms: `userId` unblocked them. */
  async showTo(userId: string, viewerId: string): Promise<void> {
    const connected = (await this.store.online([userId])).has(userId);
    const profile = await this.directory.profileOf(userId);
    await this.publish(
      userId,
      { userId, ...visible(profile, connected, profile.lastSeenAt), hiddenFrom: [], onlyFor: [viewerId] },
      viewerId,
    );
  }

  /** Which of `userIds` have a connection open on any node (before privacy: see users/privacy.ts). */
  online(userIds: readonly string[]): Promise<Set<string>> {
    return this.store.online(userIds);
  }

  /** Closes this node's connections in the store (graceful shutdown) and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.local].map(([connId, userId]) => this.disconnected(userId, connId)));
    // and the ones sockets started as they closed: their OFFLINE must be published before the bus goes
    await Promise.allSettled(this.inFlight);
  }

  /** Runs a store update and announcement, remembered until it settles so close() can wait for it. */
  private track(work: () => Promise<void>): Promise<void> {
    const running = work().finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
    return running;
  }

  private async tick(): Promise<void> {
    await this.store.heartbeat(this.local);
    for (const userId of await this.store.sweep()) await this.announce(userId, false, false);
  }

  /**
   * Publishes the status others see. A hidden user (showOnlineStatus off) shows
   * OFFLINE whatever happens, so connecting and disconnecting announce nothing;
   * `force` (a choice changed) announces anyway.
   */
  private async announce(userId: string, connected: boolean, force: boolean): Promise<void> {
    const lastSeenAt = await this.directory.touchLastSeen(userId, new Date());
    const profile = await this.directory.profileOf(userId);
    if (!profile.visible && !force) return;
    await this.publish(userId, { userId, ...visible(profile, connected, lastSeenAt), hiddenFrom: profile.blockedIds });
  }

  /** Publishes `payload` in each room of `userId` (shared with `sharedWith` when given). */
  private async publish(userId: string, payload: PresencePayload, sharedWith?: string): Promise<void> {
    const rooms = await this.directory.roomIdsOf(userId, sharedWith);
    await Promise.all(rooms.map((roomId) => this.pubsub.publish(topics.presence(roomId), payload)));
  }
}

/**
 * The status a viewer sees: OFFLINE when the user is not connected or hidden from
 * them (showOnlineStatus off, or a block: users/privacy.ts), else AWAY if chosen, else ONLINE.
 */
export function shownStatus(connected: boolean, hidden: boolean, away: boolean): PresenceStatus {
  return !connected || hidden ? "OFFLINE" : away ? "AWAY" : "ONLINE";
}

/** The status and lastSeenAt others see of a user with `profile`. */
function visible(profile: PresenceProfile, connected: boolean, lastSeenAt: Date | null): Pick<PresencePayload, "status" | "lastSeenAt"> {
  return {
    status: shownStatus(connected, !profile.visible, profile.away),
    lastSeenAt: profile.visible ? (lastSeenAt?.toISOString() ?? null) : null,
  };
}
