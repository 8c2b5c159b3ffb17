import type { Db } from "../db/client.js";

/** `@username` where a username may stand (rules.username: 3–32 of a–z, 0–9, '_' and '.'), not inside an email address. */
const MENTION = /(?<![\w.@])@([a-z0-9_.]{3,32})/gi;

/** The distinct usernames `content` mentions, lower-cased. */
export function mentionedUsernames(content: string): string[] {
  return [...new Set([...content.matchAll(MENTION)].map((m) => m[1]!.toLowerCase().replace(/\.+$/, "")))];
}

/**
 * The ids of the users `content` mentions who can be notified: members of the
 * room, not the sender, and not users who blocked the sender.
 */
export async function resolveMentions(db: Db, roomId: string, senderId: string, content: string): Promise<string[]> {
  const usernames = mentionedUsernames(content);
  if (usernames.length === 0) return [];
  const users = await db.user.findMany({
    where: {
      username: { in: usernames },
      id: { not: senderId },
      memberships: { some: { roomId } },
      blocks: { none: { blockedId: senderId } },
    },
    select: { id: true },
  });
  return users.map((u) => u.id);
}
