import type { Db } from "../db/client.js";
import type { ModerationAction } from "../generated/prisma/client.js";

/** One row of a room's moderation audit log (ModerationLogEntry). */
export interface AuditEntry {
  roomId: string;
  /** Who acted: a room OWNER or ADMIN. */
  actorId: string;
  /** Who it was done to: the banned, unbanned or kicked user; a resolved report's reported user. */
  targetId: string;
  action: ModerationAction;
  /** The moderator's reason (ban, kick) or the report's (its resolution). */
  reason: string | null;
  /** The report the action resolved, if any. */
  reportId?: string | null;
}

/**
 * Writes `entry` to the room's audit log. `db` is the transaction that makes the
 * change, so the change and its row commit together or not at all.
 */
export async function audit(db: Db, entry: AuditEntry): Promise<void> {
  await db.moderationLogEntry.create({ data: { ...entry, reportId: entry.reportId ?? null } });
}
