import type { PrismaClient } from "../db/client.js";
import { badInput } from "../errors.js";
import type { Room } from "../generated/prisma/client.js";
import type { EventLog } from "../realtime/event-log.js";
import { requireRole } from "./access.js";

/** Longest slow mode, in seconds: 6 hours (Discord's and Slack's longest). */
export const MAX_SLOW_MODE_S = 6 * 3600;
/** Most blocked words a room may have. */
export const MAX_BLOCKED_WORDS = 200;
/** Longest blocked word, in characters. */
export const MAX_BLOCKED_WORD_LENGTH = 50;

/** A word: a run of letters, digits, combining marks and `_`; anything else separates words. */
const SEPARATORS = /[^\p{L}\p{M}\p{N}_]+/u;

/** A word as rules compare it: NFKC (so full-width and ligature forms match their plain ones), then lower case. */
export const normalizeWord = (word: string) => word.normalize("NFKC").toLowerCase();

/**
 * The distinct words of `content`, normalized ({@link normalizeWord}): what a
 * room's blocked words are compared with, whole word by whole word (so "class"
 * does not match a blocked "ass"). The send statement gets them as an array
 * (chat_send_message's p_words), so the check costs no round trip.
 */
export function wordsOf(content: string): string[] {
  return [...new Set(normalizeWord(content).split(SEPARATORS).filter(Boolean))];
}

/** True when `word` is one word of 1…{@link MAX_BLOCKED_WORD_LENGTH} characters once normalized: what a blocked word must be. */
export function isOneWord(word: string): boolean {
  const words = wordsOf(word);
  return words.length === 1 && words[0] === normalizeWord(word) && [...words[0]].length <= MAX_BLOCKED_WORD_LENGTH;
}

/** True when `content` has a word of `blockedWords` (normalized words, as stored on the room). */
export function hasBlockedWord(content: string, blockedWords: readonly string[]): boolean {
  if (blockedWords.length === 0) return false;
  const blocked = new Set(blockedWords);
  return wordsOf(content).some((word) => blocked.has(word));
}

/** The error for a message with a blocked word, on `field` (sendMessage's `input.content`, editMessage's `content`). */
export const blockedWordError = (field: string) => badInput(field, "The message contains a word this room does not allow");

/**
 * A room's rules for what its members send, set by its OWNER and ADMINs and
 * applied by the send statement (chat_send_message) and by edits
 * (chat/messages.ts): slow mode and blocked words. Each change is a RoomUpdated
 * event. DIRECT rooms have no OWNER or ADMIN, so no rules.
 */
export class RoomRules {
  constructor(
    private readonly db: PrismaClient,
    private readonly events: EventLog,
  ) {}

  /**
   * Sets slow mode: a MEMBER may send one message every `seconds` seconds
   * (0 turns it off; at most {@link MAX_SLOW_MODE_S}, checked by the schema's
   * input rules); OWNERs and ADMINs are exempt, edits do not count. A send too
   * soon answers RATE_LIMITED with `retryAfter` (chat/messages.ts).
   * @throws FORBIDDEN unless OWNER or ADMIN; NOT_FOUND / FORBIDDEN for non-members.
   */
  setSlowMode(actorId: string, roomId: string, seconds: number): Promise<Room> {
    return this.change(actorId, roomId, { slowModeSeconds: seconds });
  }

  /**
   * Replaces the room's blocked words (each one word, {@link isOneWord}; at most
   * {@link MAX_BLOCKED_WORDS}, checked by the schema's input rules): a message,
   * sent or edited, containing one as a whole word, in any case, is refused with
   * BAD_USER_INPUT on its content. Words are stored normalized
   * ({@link normalizeWord}), sorted, without duplicates; `[]` clears them.
   * @throws FORBIDDEN unless OWNER or ADMIN; NOT_FOUND / FORBIDDEN for non-members.
   */
  setBlockedWords(actorId: string, roomId: string, words: readonly string[]): Promise<Room> {
    return this.change(actorId, roomId, { blockedWords: [...new Set(words.map(normalizeWord))].sort() });
  }

  private async change(actorId: string, roomId: string, data: Pick<Partial<Room>, "slowModeSeconds" | "blockedWords">): Promise<Room> {
    await requireRole(this.db, roomId, actorId, ["OWNER", "ADMIN"]);
    return this.events.transaction(this.db, async (tx, record) => {
      await record({ kind: "RoomUpdated", roomId, byId: actorId });
      return tx.room.update({ where: { id: roomId }, data });
    });
  }
}
