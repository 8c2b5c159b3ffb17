import type { Message } from "../generated/prisma/client.js";

/**
 * Pub/sub topics and the JSON payloads published on them. Payloads cross Redis
 * as JSON, so they hold only JSON values (dates as ISO-8601 strings); every node
 * turns them back into model objects in the subscription's `resolve`.
 * One topic per room and event kind: a node subscribes to a room's channel only
 * while it has a subscriber for it, and a publish reaches each node once. The id
 * in braces is a Redis Cluster hash tag: a room's channels (and a user's) share
 * one slot, so one shard carries them (sharded pub/sub: sharded-pubsub.ts).
 * With tracing on, what EventLog.afterCommit publishes also carries its trace
 * context (`traceparent`: tracing.ts TraceCarrier), which no resolver reads.
 */
export const topics = {
  messageAdded: (roomId: string) => `room:{${roomId}}:message`,
  typing: (roomId: string) => `room:{${roomId}}:typing`,
  presence: (roomId: string) => `room:{${roomId}}:presence`,
  /** Membership and room changes ({@link RoomEventPayload}); also ends the room's other subscriptions for a removed member. */
  roomEvents: (roomId: string) => `room:{${roomId}}:events`,
  /** One user's events across rooms ({@link UserEventPayload}). */
  userEvents: (userId: string) => `user:{${userId}}:events`,
  /** Every node listens: a session ended, close its sockets ({@link SessionRevokedPayload}). */
  sessionRevoked: "sessions:revoked",
};

/** A Message row as JSON: dates as ISO-8601 strings. */
export type MessageJson = {
  [K in keyof Message]: Message[K] extends Date ? string : Message[K] extends Date | null ? string | null : Message[K];
};

/** A stored message as published on `messageAdded`. */
export interface MessageAddedPayload {
  message: MessageJson;
}

/** The Message fields that are dates (ISO-8601 strings in {@link MessageJson}). */
export const MESSAGE_DATES = ["createdAt", "editedAt", "deletedAt", "threadLastReplyAt", "pinnedAt", "expiresAt"] as const;

/** A Message row → JSON for the bus. */
export function messageToJson(message: Message): MessageJson {
  const json = { ...message } as Record<string, unknown>;
  for (const key of MESSAGE_DATES) json[key] = message[key]?.toISOString() ?? null;
  return json as MessageJson;
}

/** JSON from the bus → a Message row. */
export function messageFromJson(json: MessageJson): Message {
  const message = { ...json } as Record<string, unknown>;
  for (const key of MESSAGE_DATES) message[key] = json[key] === null ? null : new Date(json[key]!);
  return message as Message;
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
  /** Users this user has blocked: they do not get this event. */
  hiddenFrom: string[];
  /** When set, only these users get the event (a block or unblock changes what one user sees). */
  onlyFor?: string[];
}

type Role = "OWNER" | "ADMIN" | "MEMBER";

/** Why a member left: on their own, removed (removeRoomMember), kicked or banned (moderation/bans.ts). */
export type LeftReason = "LEFT" | "REMOVED" | "KICKED" | "BANNED";

type MessageEventData<K> = { kind: K; roomId: string; messageId: string };
type ReactionEventData<K> = { kind: K; roomId: string; messageId: string; userId: string; emoji: string };

/** A room event as recorded: `kind` names the GraphQL type; ids only (each node loads the rows its subscribers select). */
export type RoomEventData =
  | { kind: "MemberJoined"; roomId: string; userId: string; role: Role; byId: string | null; invitedById: string | null }
  | { kind: "MemberLeft"; roomId: string; userId: string; reason: LeftReason; byId: string | null; note?: string | null }
  | { kind: "MemberRoleChanged"; roomId: string; userId: string; role: Role; previousRole: Role; byId: string }
  | { kind: "RoomUpdated"; roomId: string; byId: string }
  | { kind: "RoomDeleted"; roomId: string; byId: string }
  | MessageEventData<"MessageAdded">
  | MessageEventData<"MessageEdited">
  | (MessageEventData<"MessageDeleted"> & { byId: string })
  | MessageEventData<"MessageExpired">
  | ReactionEventData<"ReactionAdded">
  | ReactionEventData<"ReactionRemoved">
  | { kind: "ReadReceipt"; roomId: string; messageId: string; userId: string }
  | { kind: "DeliveryReceipt"; roomId: string; userId: string; upToSeq: number }
  | { kind: "MessagePinned"; roomId: string; messageId: string; pinned: boolean; byId: string };

/**
 * Published on `roomEvents` and stored in the room's log (StoredEvent): the
 * event with its per-room `seq` (1, 2, 3, …) and its time `at` (ISO-8601).
 */
export type RoomEventPayload = RoomEventData & { seq: number; at: string };

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

/**
 * Why a user is out of a room, on their RemovedFromRoom: removed, kicked or banned by
 * a moderator; the room deleted (its OWNER's other devices get it too); LEFT: their
 * own leaveRoom (for their other devices); HIDDEN: their own deleteRoom on a DIRECT
 * room, which hides it until a newer message (chat/rooms.ts hide): they stay a member.
 */
export type RemovedReason = "REMOVED" | "KICKED" | "BANNED" | "ROOM_DELETED" | "LEFT" | "HIDDEN";

/**
 * Published on `userEvents`, to one user, and stored in their event log
 * (UserEventLog) in the change's transaction (realtime/event-log.ts logUserEvents).
 * `logId`: the log row's id (decimal), on what is published and what is replayed.
 */
export type UserEventPayload = (
  | { kind: "InviteReceived"; inviteId: string; at: string }
  | { kind: "AddedToRoom"; roomId: string; byId: string | null; at: string }
  | {
      kind: "RemovedFromRoom";
      roomId: string;
      roomName: string | null;
      reason: RemovedReason;
      byId: string | null;
      note?: string | null;
      at: string;
    }
  | { kind: "ContactRequest"; contact: ContactJson; at: string }
  | { kind: "DirectRoomCreated"; roomId: string; byId: string; at: string }
  | { kind: "MentionNotification"; notificationId: string; at: string }
) & { logId?: string };

/**
 * Published on `userEvents` when the user joined or left a room, for their nodes'
 * room activity (realtime/room-activity.ts); myEvents does not show it.
 */
export interface MembershipPayload {
  kind: "Membership";
  roomId: string;
  joined: boolean;
  at: string;
}

/** Published on `sessionRevoked`. */
export interface SessionRevokedPayload {
  sessionId: string;
}
