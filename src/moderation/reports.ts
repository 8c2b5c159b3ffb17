import { requireMember, requireRole } from "../chat/access.js";
import type { Messages } from "../chat/messages.js";
import { isBanned } from "../chat/rooms.js";
import type { PrismaClient } from "../db/client.js";
import { badInput, forbidden, notFound } from "../errors.js";
import type { Report, ReportResolution } from "../generated/prisma/client.js";
import type { Bans } from "./bans.js";
import { audit } from "./log.js";

/**
 * Reports of messages and users, and their resolution
 * by the room's OWNER and ADMINs, who read them in Room.reports. A reporter has
 * at most one OPEN report per target (Report.openKey): reporting again returns
 * it. Reports are rate limited per reporter (RATE_LIMIT_REPORT, limits/rate-limits.ts).
 * A report without a room (reportUser without roomId) or in a DIRECT room (no
 * admins) is stored for the platform's operators; no room queue shows it.
 */
export class Reports {
  constructor(
    private readonly db: PrismaClient,
    private readonly bans: Bans,
    private readonly messages: Messages,
  ) {}

  /**
   * Reports a message of a room the reporter is a member of.
   * @throws NOT_FOUND for an unknown message or one in a room the reporter cannot
   * see (FORBIDDEN for a PUBLIC room not joined); FORBIDDEN for one's own message;
   * BAD_USER_INPUT on `messageId` for a deleted message.
   */
  async reportMessage(reporterId: string, messageId: string, reason: string): Promise<Report> {
    const message = await this.db.message.findUnique({
      where: { id: messageId },
      select: { roomId: true, senderId: true, deletedAt: true },
    });
    if (!message) throw notFound("Message");
    await requireMember(this.db, message.roomId, reporterId);
    if (message.senderId === reporterId) throw forbidden("You cannot report your own message");
    if (message.deletedAt) throw badInput("messageId", "The message was deleted");
    return this.file({ reporterId, roomId: message.roomId, messageId, targetUserId: message.senderId, reason }, `m:${messageId}`);
  }

  /**
   * Reports a user: in `roomId` (both are members; the room's admins see it), or
   * with no room (null: for the platform's operators).
   * @throws FORBIDDEN for oneself; NOT_FOUND (user; with a room: the room for a
   * non-member of a private one, or the user is not a member) / FORBIDDEN (a PUBLIC
   * room not joined).
   */
  async reportUser(reporterId: string, userId: string, roomId: string | null, reason: string): Promise<Report> {
    if (userId === reporterId) throw forbidden("You cannot report yourself");
    if (roomId) {
      await requireMember(this.db, roomId, reporterId);
      if (!(await this.db.roomMember.findUnique({ where: { roomId_userId: { roomId, userId } }, select: { userId: true } })))
        throw notFound("Member");
    } else if (!(await this.db.user.findUnique({ where: { id: userId }, select: { id: true } }))) {
      throw notFound("User");
    }
    return this.file({ reporterId, roomId, messageId: null, targetUserId: userId, reason }, `u:${userId}:${roomId ?? "-"}`);
  }

  /**
   * Resolves an OPEN report of the room; OWNER or ADMIN. DISMISS closes it;
   * DELETE_MESSAGE deletes the reported message (as deleteMessage, MessageDeleted
   * event) and closes it; BAN_USER bans the reported user with the report's reason
   * (as banMember; no-op when banned already) and closes it. Each is audited.
   * @throws NOT_FOUND (unknown report, one without a room, or a room the viewer
   * cannot see); FORBIDDEN (role; BAN_USER on a user of equal or higher role);
   * BAD_USER_INPUT on `reportId` when already resolved, on `action` for
   * DELETE_MESSAGE on a report of a user, or BAN_USER on the viewer themself.
   */
  async resolve(actorId: string, reportId: string, action: ReportResolution): Promise<Report> {
    const report = await this.db.report.findUnique({ where: { id: reportId } });
    if (!report?.roomId) throw notFound("Report");
    const roomId = report.roomId;
    await requireRole(this.db, roomId, actorId, ["OWNER", "ADMIN"]);
    if (report.status !== "OPEN") throw badInput("reportId", "The report is already resolved");
    if (action === "DELETE_MESSAGE") {
      if (!report.messageId) throw badInput("action", "DELETE_MESSAGE needs a report of a message");
      await this.messages.delete(actorId, report.messageId);
    }
    if (action === "BAN_USER") {
      if (report.targetUserId === actorId) throw badInput("action", "You cannot ban yourself");
      if (!(await isBanned(this.db, roomId, report.targetUserId)))
        await this.bans.ban(actorId, roomId, report.targetUserId, report.reason, reportId);
    }
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.report.updateMany({
        where: { id: reportId, status: "OPEN" },
        data: { status: "RESOLVED", resolution: action, resolvedById: actorId, resolvedAt: new Date(), openKey: null },
      });
      if (count === 0) throw badInput("reportId", "The report is already resolved");
      // a ban writes its own row, naming the report
      if (action !== "BAN_USER") {
        const what = action === "DISMISS" ? "DISMISS_REPORT" : "DELETE_MESSAGE";
        await audit(tx, { roomId, actorId, targetId: report.targetUserId, action: what, reason: report.reason, reportId });
      }
      return tx.report.findUniqueOrThrow({ where: { id: reportId } });
    });
  }

  /**
   * Stores an OPEN report, or returns the reporter's open one on the same target
   * (`target` keys it). Tries again when that one was resolved between the two
   * statements (its key cleared): the next insert then succeeds.
   */
  private async file(
    data: Pick<Report, "reporterId" | "roomId" | "messageId" | "targetUserId" | "reason">,
    target: string,
  ): Promise<Report> {
    const openKey = `${data.reporterId}:${target}`;
    await this.db.report.createMany({ data: [{ ...data, openKey }], skipDuplicates: true });
    return (await this.db.report.findUnique({ where: { openKey } })) ?? this.file(data, target);
  }
}
