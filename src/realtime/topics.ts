import type { PubSubEngine } from "graphql-subscriptions";

/**
 * Pub/sub topics and the JSON payloads published on them. Payloads cross Redis
 * as JSON, so they hold only JSON values (dates as ISO-8601 strings); every node
 * turns them back into model objects in the subscription's `resolve`.
 * One topic per room and event kind: a node subscribes to a room's channel only
 * while it has a subscriber for it, and a publish reaches each node once.
 */
export const topics = {
  messageAdded: (roomId: string) => `room:${roomId}:message`,
  typing: (roomId: string) => `room:${roomId}:typing`,
  presence: (roomId: string) => `room:${roomId}:presence`,
  /** Membership and room changes ({@link RoomEventPayload}); also ends the room's other subscriptions for a removed member. */
  roomEvents: (roomId: string) => `room:${roomId}:events`,
  /** One user's events across rooms ({@link UserEventPayload}). */
  userEvents: (userId: string) => `user:${userId}:events`,
  /** Every node listens: a session ended, close its sockets ({@link SessionRevokedPayload}). */
  sessionRevoked: "sessions:revoked",
};

/** A stored message as published on `messageAdded` (the Message row, dates as ISO strings). */
export interface MessageAddedPayload {
  message: {
    id: string;
    roomId: string;
    seq: number;
    senderId: string;
    content: string;
    replyToId: string | null;
    clientMessageId: string | null;
    createdAt: string;
  };
}

/** Published on `typing`; `isTyping: false` is also sent by the server when a typing state expires. */
export interface TypingPayload {
  roomId: string;
  userId: string;
  isTyping: boolean;
}

export type PresenceStatus = "ONLINE" | "AWAY" | "OFFLINE";

/** Published on `presence` in every room of a user whose visible status changed. */
export interface PresencePayload {
  userId: string;
  status: PresenceStatus;
  /** ISO-8601 time the user was last connected; null if never. */
  lastSeenAt: string | null;
  /** Users this user has blocked: they do not get this event (seed 001 blocking). */
  hiddenFrom: string[];
  /** When set, only these users get the event (a block or unblock changes what one user sees). */
  onlyFor?: string[];
}

type Role = "OWNER" | "ADMIN" | "MEMBER";

/**
 * Published on `roomEvents`: `kind` names the GraphQL type. Ids only; each node
 * loads the rows the subscriber selected. `at` is an ISO-8601 time.
 */
export type RoomEventPayload =
  | { kind: "MemberJoined"; roomId: string; userId: string; role: Role; byId: string | null; invitedById: string | null; at: string }
  | { kind: "MemberLeft"; roomId: string; userId: string; reason: "LEFT" | "REMOVED"; byId: string | null; at: string }
  | { kind: "MemberRoleChanged"; roomId: string; userId: string; role: Role; previousRole: Role; byId: string; at: string }
  | { kind: "RoomUpdated"; roomId: string; byId: string; at: string }
  | { kind: "RoomDeleted"; roomId: string; byId: string; at: string };

/** A Contact row (a contact request) as JSON. */
export interface ContactJson {
  id: string;
  fromId: string;
  toId: string;
  pairKey: string;
  status: "PENDING" | "ACCEPTED";
  createdAt: string;
  respondedAt: string | null;
}

/** Published on `userEvents`, to one user. */
export type UserEventPayload =
  | { kind: "InviteReceived"; inviteId: string; at: string }
  | { kind: "AddedToRoom"; roomId: string; byId: string | null; at: string }
  | { kind: "RemovedFromRoom"; roomId: string; roomName: string | null; reason: "REMOVED" | "ROOM_DELETED"; byId: string | null; at: string }
  | { kind: "ContactRequest"; contact: ContactJson; at: string }
  | { kind: "DirectRoomCreated"; roomId: string; byId: string; at: string };

/** Published on `sessionRevoked`. */
export interface SessionRevokedPayload {
  sessionId: string;
}

/** Distributes `Omit<T, "at">` over a union, so event literals can be written without `at`. */
type WithoutAt<T> = T extends unknown ? Omit<T, "at"> : never;

/**
 * Publishes room, user and session events on the bus, stamped with the time.
 * Callers publish after their transaction has committed.
 */
export class Events {
  constructor(private readonly pubsub: PubSubEngine) {}

  /** To the room's `roomEvents` subscribers. */
  room(event: WithoutAt<RoomEventPayload>): Promise<void> {
    return this.pubsub.publish(topics.roomEvents(event.roomId), { ...event, at: new Date().toISOString() });
  }

  /** To each of `userIds`' `myEvents` subscribers. */
  async users(userIds: readonly string[], event: WithoutAt<UserEventPayload>): Promise<void> {
    const payload = { ...event, at: new Date().toISOString() };
    await Promise.all(userIds.map((id) => this.pubsub.publish(topics.userEvents(id), payload)));
  }

  /** To every node: close the session's sockets. */
  sessionRevoked(sessionId: string): Promise<void> {
    const payload: SessionRevokedPayload = { sessionId };
    return this.pubsub.publish(topics.sessionRevoked, payload);
  }
}
