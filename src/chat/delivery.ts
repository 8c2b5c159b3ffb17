import type { PrismaClient } from "../db/client.js";
import { badInput } from "../errors.js";
import type { Room } from "../generated/prisma/client.js";
import type { EventLog } from "../realtime/event-log.js";
import { showsReadReceipts } from "../users/privacy.js";
import { requireMember } from "./access.js";

/**
 * One member's receipt marks in a room, as Message.readBy and deliveryState read
 * them (context.ts Loaders.receiptMarkers: every member of the room, one statement).
 */
export interface ReceiptMarker {
  userId: string;
  /** The read marker (markRead, and the member's own sends). */
  lastReadSeq: number;
  /** The delivery mark (markDelivered); what is read counts as delivered too. */
  lastDeliveredSeq: number;
  /** The member shows read receipts (User.showReadReceipts): hidden members count for neither readBy nor deliveryState. */
  showsReceipts: boolean;
}

/** A message's state for its sender. */
export type DeliveryState = "SENT" | "DELIVERED" | "READ";

/**
 * The state of `message` for its sender, from the marks of its room's members:
 * - READ: another member who shows read receipts has read it (their read marker reached its seq);
 * - DELIVERED: the room has at most `maxMembers` members, and every other member
 *   shows read receipts and has a device that acknowledged it
 *   (GREATEST(lastDeliveredSeq, lastReadSeq) ≥ its seq);
 * - SENT otherwise: stored, and in a room above `maxMembers` (delivery is not
 *   tracked there) until it is READ.
 */
export function deliveryStateOf(
  message: { senderId: string; seq: number },
  members: readonly ReceiptMarker[],
  maxMembers: number,
): DeliveryState {
  const others = members.filter((m) => m.userId !== message.senderId);
  if (others.some((m) => m.showsReceipts && m.lastReadSeq >= message.seq)) return "READ";
  const delivered = (m: ReceiptMarker) => m.showsReceipts && Math.max(m.lastDeliveredSeq, m.lastReadSeq) >= message.seq;
  return members.length <= maxMembers && others.length > 0 && others.every(delivered) ? "DELIVERED" : "SENT";
}

/**
 * Delivery receipts (the WhatsApp and Stream model): each device acknowledges
 * what it has received with markDelivered, which moves its member's delivery
 * mark (RoomMember.lastDeliveredSeq, a high-water mark: any of the member's
 * devices moves it, never backwards) and publishes a DeliveryReceipt on the
 * room's events, so the sender sees its messages turn DELIVERED
 * ({@link deliveryStateOf}). Bounded: in a room of more than `maxMembers`
 * members (config DELIVERY_RECEIPTS_MAX_MEMBERS) nothing is stored or published.
 */
export class DeliveryReceipts {
  constructor(
    private readonly db: PrismaClient,
    private readonly events: EventLog,
    private readonly maxMembers: number,
  ) {}

  /**
   * Acknowledges, for the viewer's device, every message of the room up to seq
   * `upToSeq`. Moves the viewer's delivery mark there unless it (or their read
   * marker) is there already; when it moved and the viewer shows read receipts,
   * records a DeliveryReceipt. In a room above the member bound it changes
   * nothing. Returns the room.
   * @throws NOT_FOUND / FORBIDDEN for non-members (access.ts requireMember);
   * BAD_USER_INPUT on `upToSeq` beyond the room's newest message.
   */
  async markDelivered(userId: string, roomId: string, upToSeq: number): Promise<Room> {
    await requireMember(this.db, roomId, userId);
    const { _count, ...room } = await this.db.room.findUniqueOrThrow({
      where: { id: roomId },
      include: { _count: { select: { members: true } } },
    });
    if (upToSeq > room.lastSeq) throw badInput("upToSeq", "upToSeq must be the seq of a message of this room");
    if (_count.members > this.maxMembers) return room;
    const shows = await showsReadReceipts(this.db, userId);
    return this.events.transaction(this.db, async (tx, record) => {
      const { count } = await tx.roomMember.updateMany({
        where: { roomId, userId, lastDeliveredSeq: { lt: upToSeq }, lastReadSeq: { lt: upToSeq } },
        data: { lastDeliveredSeq: upToSeq },
      });
      if (count > 0 && shows) await record({ kind: "DeliveryReceipt", roomId, userId, upToSeq });
      return room;
    });
  }
}
