import { z } from "zod";
import { MAX_ATTACHMENTS, SELF_DESTRUCT_TIMERS_S } from "../chat/messages.js";
import { isOneWord, MAX_BLOCKED_WORD_LENGTH, MAX_BLOCKED_WORDS, MAX_SLOW_MODE_S } from "../chat/room-rules.js";
import { MAX_MAX_MEMBERS } from "../chat/rooms.js";

/**
 * Text PostgreSQL stores exactly as sent: well-formed Unicode (a lone surrogate
 * would be stored as U+FFFD, or refused by the driver) and no NUL (PostgreSQL
 * `text` cannot hold U+0000). Every free-text rule below starts from it.
 */
const text = () => z.string().refine((s) => s.isWellFormed() && !s.includes("\0"), "must be valid Unicode text without NUL characters");

/** Characters as PostgreSQL's char_length counts them: code points, so a 4-byte emoji counts one (not two UTF-16 units). */
const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
};

/**
 * An ID: a UUID, lower-cased. PostgreSQL reads a uuid in either case, but ids
 * are also compared and used as strings (direct-room keys, pub/sub topics, "is
 * this me?"), so "ABC…" and "abc…" must become the same id before any of that.
 */
const uuid = () => z.uuid("must be a valid ID").toLowerCase();

/** base64url (padding tolerated, as browsers' toJSON may add none or some) of exactly `bytes` bytes. */
const base64urlBytes = (bytes: number, message: string) =>
  z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, message)
    .transform((s) => s.replace(/=+$/, ""))
    .refine((s) => Buffer.from(s, "base64url").length === bytes, message);

/** The id inside a Prisma connection cursor (plugin-prisma: base64 of `GPC:S:<id>`). */
const PRISMA_CURSOR = /^GPC:/;
const UUID_CURSOR = /^GPC:S:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Input rules shared by the schema files. Limits and their reasons:
 * message content 1–5,000 characters, counted in code points; username at least
 * 3 characters; passwords 8–128 (NIST SP 800-63B minimum; the upper bound caps
 * argon2 work); phone numbers in E.164 form ("+1234567890").
 */
export const rules = {
  id: uuid(),
  username: z
    .string()
    .trim()
    .toLowerCase()
    .min(3, "must be at least 3 characters")
    .max(32, "must be at most 32 characters")
    .regex(/^[a-z0-9_.]+$/, "may contain only letters, digits, '_' and '.'"),
  email: z.string().trim().toLowerCase().max(254).pipe(z.email("must be a valid email address")),
  password: z.string().min(8, "must be at least 8 characters").max(128, "must be at most 128 characters"),
  personName: text().trim().min(1, "is required").max(64, "must be at most 64 characters"),
  phoneNumber: z
    .string()
    .trim()
    .regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number such as +14155550123"),
  bio: text().trim().max(500, "must be at most 500 characters"),
  deviceId: text().trim().min(1).max(128),
  roomName: text().trim().min(1, "is required").max(100, "must be at most 100 characters"),
  roomDescription: text().trim().max(1000, "must be at most 1000 characters"),
  content: text()
    .trim()
    .min(1, "must not be empty")
    .refine((s) => codePoints(s) <= 5000, "must be at most 5000 characters"),
  /** A moderator's or reporter's reason (ban, kick, report): kept in the audit log. */
  moderationReason: text().trim().min(1, "must not be empty").max(500, "must be at most 500 characters"),
  clientMessageId: text().min(1).max(128, "must be at most 128 characters"),
  idList: z.array(uuid()).max(1000, "at most 1000 IDs"),
  attachmentIds: z.array(uuid()).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`),
  pageSize: z.number().int().min(1, "must be at least 1").max(100, "must be at most 100"),
  /** sync's limitPerRoom: how many new messages per room, 0 (none: positions and counts only) to 100. */
  syncLimitPerRoom: z.number().int().min(0, "must be at least 0").max(100, "must be at most 100"),
  /** A message's position in its room (Message.seq: 1, 2, 3, …). */
  seq: z.number().int().min(1, "must be at least 1"),
  maxMembers: z.number().int().min(2, "must be at least 2").max(MAX_MAX_MEMBERS, `must be at most ${MAX_MAX_MEMBERS}`),
  slowModeSeconds: z.number().int().min(0, "must be 0 (off) or more").max(MAX_SLOW_MODE_S, `must be at most ${MAX_SLOW_MODE_S} seconds`),
  blockedWords: z
    .array(text().trim().refine(isOneWord, `each must be one word (letters, digits, _) of 1 to ${MAX_BLOCKED_WORD_LENGTH} characters`))
    .max(MAX_BLOCKED_WORDS, `at most ${MAX_BLOCKED_WORDS} words`),
  search: text().trim().max(100, "must be at most 100 characters"),
  searchQuery: text().trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
  selfDestructTimer: z
    .number()
    .refine(
      (s) => (SELF_DESTRUCT_TIMERS_S as readonly number[]).includes(s),
      `must be one of ${SELF_DESTRUCT_TIMERS_S.join(", ")} seconds`,
    ),
  url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).max(2048, "must be at most 2048 characters"),
  /** A push service's URL (PushSubscription.endpoint); production also wants https and a public host (push/subscriptions.ts). */
  pushEndpoint: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).max(2048, "must be at most 2048 characters"),
  /** A subscription's P-256 public key (RFC 8291 §3.2 `p256dh`): an uncompressed point, 65 bytes starting 0x04, base64url. */
  pushP256dh: base64urlBytes(65, "must be a P-256 public key: 65 bytes uncompressed, base64url").refine(
    (k) => Buffer.from(k, "base64url")[0] === 4,
    "must be an uncompressed P-256 point (first byte 0x04)",
  ),
  /** A subscription's authentication secret (RFC 8291 §3.2 `auth`): 16 bytes, base64url. */
  pushAuth: base64urlBytes(16, "must be 16 bytes, base64url"),
  /** updateProfile status: OFFLINE is what showOnlineStatus: false is for. */
  chosenStatus: z
    .enum(["ONLINE", "AWAY", "OFFLINE"])
    .refine((s) => s !== "OFFLINE", "must be ONLINE or AWAY; to appear offline turn showOnlineStatus off"),
  /** The user's language: a BCP 47 tag, checked by Intl. */
  language: z
    .string()
    .trim()
    .max(35)
    .refine((tag) => isLanguageTag(tag), "must be a BCP 47 language tag such as en or pt-BR"),
  /** The user's time zone: an IANA name, checked by Intl. */
  timezone: z
    .string()
    .trim()
    .max(64)
    .refine((zone) => isTimeZone(zone), "must be an IANA time zone such as Europe/Paris"),
  /** login's email or username: looked up as given, so only text PostgreSQL can compare (a wrong one is UNAUTHENTICATED). */
  login: text().max(254, "must be at most 254 characters"),
  /**
   * A connection's `after` / `before` (every connection argument, via the relay
   * options in builder.ts): a Prisma cursor must name a UUID, as the server issues
   * them; a tampered one (another type, a non-UUID id) is refused here instead of
   * failing in the database. Other cursors (offset connections) are checked by
   * their resolver.
   */
  cursor: z.string().refine((c) => {
    const decoded = Buffer.from(c, "base64").toString("utf8");
    return !PRISMA_CURSOR.test(decoded) || UUID_CURSOR.test(decoded);
  }, "is not a cursor this server issued"),
  /** A token from an account mail (account/tokens.ts): 43 base64url characters; a malformed one is refused here, an unknown one by its mutation. */
  accountToken: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{43}$/, "is not a valid token"),
  /** One emoji (a single RGI emoji sequence, e.g. 👍, 👍🏽, 👨‍👩‍👧). */
  emoji: z.string().regex(/^\p{RGI_Emoji}$/v, "must be a single emoji"),
};

function isLanguageTag(tag: string): boolean {
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}
