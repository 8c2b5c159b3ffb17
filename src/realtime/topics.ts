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

/** Published on `presence` in every room of a user whose status changed. */
export interface PresencePayload {
  userId: string;
  status: PresenceStatus;
  /** ISO-8601 time the user was last connected; null if never. */
  lastSeenAt: string | null;
}
