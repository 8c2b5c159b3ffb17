import type { Db, PrismaClient } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput, forbidden, notFound } from "../errors.js";
import type { Contact } from "../generated/prisma/client.js";
import type { EventLog } from "../realtime/event-log.js";
import type { Presence } from "../realtime/presence.js";
import { requireUser } from "./directory.js";
import { blockedEitherWay } from "./privacy.js";

/** The Contact row as the API shows it: a declined request is deleted and returned once with status DECLINED. */
export type ContactRequestView = Omit<Contact, "status"> & { status: Contact["status"] | "DECLINED" };

const pairKey = (a: string, b: string) => [a, b].sort().join(":");

/** Whether `a` and `b` are contacts (an accepted request either way). */
export async function isContact(db: Db, a: string, b: string): Promise<boolean> {
  return (await db.contact.count({ where: { pairKey: pairKey(a, b), status: "ACCEPTED" } })) > 0;
}

/**
 * Contacts and blocking. One Contact row per pair:
 * a PENDING request that becomes ACCEPTED. The addressee of a new request, and
 * the requester of an accepted one, get it on myEvents (stored in their event log
 * in the change's transaction: realtime/event-log.ts logUserEvents).
 */
export class Contacts {
  constructor(
    private readonly db: PrismaClient,
    private readonly events: EventLog,
    private readonly presence: Presence,
  ) {}

  /**
   * Asks `toId` to become a contact. Asking again, or asking a contact, returns
   * the existing row; asking someone who already asked you accepts their request.
   * @throws BAD_USER_INPUT on `userId` for oneself; NOT_FOUND for an unknown or deleted user;
   * FORBIDDEN when either blocked the other.
   */
  async request(fromId: string, toId: string): Promise<ContactRequestView> {
    if (fromId === toId) throw badInput("userId", "Cannot add yourself as a contact");
    await requireUser(this.db, toId);
    if (await blockedEitherWay(this.db, fromId, toId)) throw forbidden("You cannot add this user");
    const key = pairKey(fromId, toId);
    const existing = await this.db.contact.findUnique({ where: { pairKey: key } });
    if (existing?.status === "PENDING" && existing.toId === fromId) return this.accept(existing);
    if (existing) return existing;
    try {
      return await this.events.transaction(this.db, async (tx, _record, notify) => {
        const created = await tx.contact.create({ data: { fromId, toId, pairKey: key } });
        await notify([toId], { kind: "ContactRequest", contact: toJson(created) });
        return created;
      });
    } catch (e) {
      if (!isUniqueViolation(e, "pairKey")) throw e;
      return this.request(fromId, toId); // a crossing request won the insert; answer it
    }
  }

  /**
   * Accepts or declines a PENDING request addressed to the viewer.
   * @throws NOT_FOUND for an unknown request, one addressed to someone else, or one already answered.
   */
  async respond(userId: string, requestId: string, accept: boolean): Promise<ContactRequestView> {
    const request = await this.db.contact.findFirst({ where: { id: requestId, toId: userId, status: "PENDING" } });
    if (!request) throw notFound("Contact request");
    if (accept) return this.accept(request);
    await this.db.contact.deleteMany({ where: { id: request.id, status: "PENDING" } });
    return { ...request, status: "DECLINED", respondedAt: new Date() };
  }

  /** Ends the contact (or cancels a pending request) between the two; idempotent. */
  async remove(userId: string, otherId: string): Promise<void> {
    await this.db.contact.deleteMany({ where: { pairKey: pairKey(userId, otherId) } });
  }

  /**
   * Blocks `blockedId` and ends any contact or request between the two; idempotent.
   * The blocked user's presence subscriptions see the blocker go OFFLINE.
   * @throws BAD_USER_INPUT on `userId` for oneself; NOT_FOUND for an unknown user.
   */
  async block(blockerId: string, blockedId: string): Promise<void> {
    if (blockerId === blockedId) throw badInput("userId", "Cannot block yourself");
    if (!(await this.db.user.findUnique({ where: { id: blockedId }, select: { id: true } }))) throw notFound("User");
    await this.db.$transaction([
      this.db.block.createMany({ data: [{ blockerId, blockedId }], skipDuplicates: true }),
      this.db.contact.deleteMany({ where: { pairKey: pairKey(blockerId, blockedId) } }),
    ]);
    await this.presence.hideFrom(blockerId, blockedId);
  }

  /** Lifts the viewer's block of `blockedId` (idempotent); they see the viewer's presence again. */
  async unblock(blockerId: string, blockedId: string): Promise<void> {
    const { count } = await this.db.block.deleteMany({ where: { blockerId, blockedId } });
    if (count > 0) await this.presence.showTo(blockerId, blockedId);
  }

  private accept(request: Contact): Promise<Contact> {
    return this.events.transaction(this.db, async (tx, _record, notify) => {
      const { count } = await tx.contact.updateMany({
        where: { id: request.id, status: "PENDING" },
        data: { status: "ACCEPTED", respondedAt: new Date() },
      });
      if (count === 0) throw notFound("Contact request"); // withdrawn or answered meanwhile
      const accepted = await tx.contact.findUniqueOrThrow({ where: { id: request.id } });
      await notify([request.fromId], { kind: "ContactRequest", contact: toJson(accepted) });
      return accepted;
    });
  }
}

/** A Contact row as JSON for the bus (dates as ISO strings). */
function toJson(contact: Contact) {
  return { ...contact, createdAt: contact.createdAt.toISOString(), respondedAt: contact.respondedAt?.toISOString() ?? null };
}
