import type { Db } from "../db/client.js";

/**
 * Whether either of the two users has blocked the other. A block in either
 * direction stops direct rooms and direct messages between them.
 */
export async function blockedEitherWay(db: Db, a: string, b: string): Promise<boolean> {
  const count = await db.block.count({
    where: {
      OR: [
        { blockerId: a, blockedId: b },
        { blockerId: b, blockedId: a },
      ],
    },
  });
  return count > 0;
}

/** How a user's presence shows to one viewer. */
export interface PresenceView {
  /** Always OFFLINE and no lastSeenAt: showOnlineStatus is off, or the user blocked the viewer. */
  hidden: boolean;
  /** The user chose AWAY (shown instead of ONLINE while connected). */
  away: boolean;
}

/**
 * How each of `userIds` shows to `viewerId`, in two statements whatever the
 * number of users. The viewer always sees themself.
 * Rules: a user with showOnlineStatus off shows OFFLINE to everyone; a user who
 * blocked the viewer shows OFFLINE to them.
 */
export async function presenceViews(db: Db, viewerId: string | null, userIds: readonly string[]): Promise<Map<string, PresenceView>> {
  const [users, blockers] = await Promise.all([
    db.user.findMany({ where: { id: { in: [...userIds] } }, select: { id: true, showOnlineStatus: true, away: true } }),
    viewerId ? db.block.findMany({ where: { blockedId: viewerId, blockerId: { in: [...userIds] } }, select: { blockerId: true } }) : [],
  ]);
  const blockedViewer = new Set(blockers.map((b) => b.blockerId));
  return new Map(users.map((u) => [u.id, { away: u.away, hidden: u.id !== viewerId && (!u.showOnlineStatus || blockedViewer.has(u.id)) }]));
}

/**
 * Whether the user shows read receipts (their showReadReceipts setting). Off: their
 * read and delivery marks still move (unread counts need them), but no ReadReceipt
 * or DeliveryReceipt is published for them and neither readBy nor deliveryState
 * counts them (chat/messages.ts markRead, chat/delivery.ts).
 */
export async function showsReadReceipts(db: Db, userId: string): Promise<boolean> {
  const { showReadReceipts } = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { showReadReceipts: true } });
  return showReadReceipts;
}
