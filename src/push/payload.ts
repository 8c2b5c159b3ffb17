import type { MessageType, RoomType } from "../generated/prisma/client.js";

/** Longest preview of a message's text in a push, in characters (code points), "…" included. */
export const PREVIEW_CHARS = 120;

/**
 * What a push notification says (the JSON the service worker receives). With the
 * user's notificationPreviews off, `sender` and `body` are left out, and so is a
 * DIRECT room's name (it would be the sender's): just "a new message in this room".
 */
export interface PushPayload {
  /** `mention`: the message mentions the user; else `message`. */
  type: "message" | "mention";
  roomId: string;
  /** The room's name; in a DIRECT room (no name) the sender's, or null without previews. */
  roomName: string | null;
  roomType: RoomType;
  messageId: string;
  /** The message's position in its room (Message.seq). */
  seq: number;
  sender?: { id: string; displayName: string };
  /** The text, cut to {@link PREVIEW_CHARS}; for a message without text, what it carries ("📷 Photo", "📎 Attachment"…). */
  body?: string;
  /** The user's unread messages in the room (Room.unreadCount). */
  unreadCount: number;
}

/** What a message without text shows, by type. */
const NO_TEXT: Partial<Record<MessageType, string>> = {
  IMAGE: "📷 Photo",
  VIDEO: "🎥 Video",
  AUDIO: "🎵 Audio",
  VOICE: "🎤 Voice message",
};

/** The body of a push for a message of `type` with `text` (opened, never sealed): the text cut to {@link PREVIEW_CHARS}, else what the message carries. */
export function previewOf(type: MessageType, text: string): string {
  const chars = [...text.trim()];
  if (chars.length === 0) return NO_TEXT[type] ?? "📎 Attachment";
  return chars.length <= PREVIEW_CHARS ? chars.join("") : `${chars.slice(0, PREVIEW_CHARS - 1).join("")}…`;
}

/** A room's Web Push `Topic`: its id's 16 bytes in base64url (22 characters), so a room's pushes queued at the push service collapse into the newest. */
export function topicOf(roomId: string): string {
  return Buffer.from(roomId.replace(/-/g, ""), "hex").toString("base64url");
}
