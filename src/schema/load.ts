import type { Context } from "../context.js";

/**
 * Re-reads rows with the selection the operation asked for (plugin-prisma's
 * `query`), for resolvers whose domain call returned a bare row or an id.
 * @throws Prisma's not-found error (masked as unexpected) when the row is gone.
 */
export const load = {
  user: (ctx: Context, query: object, id: string) => ctx.app.db.user.findUniqueOrThrow({ ...query, where: { id } }),
  room: (ctx: Context, query: object, id: string) => ctx.app.db.room.findUniqueOrThrow({ ...query, where: { id } }),
  member: (ctx: Context, query: object, roomId: string, userId: string) =>
    ctx.app.db.roomMember.findUniqueOrThrow({ ...query, where: { roomId_userId: { roomId, userId } } }),
  message: (ctx: Context, query: object, id: string) => ctx.app.db.message.findUniqueOrThrow({ ...query, where: { id } }),
  notification: (ctx: Context, query: object, id: string) => ctx.app.db.notification.findUniqueOrThrow({ ...query, where: { id } }),
};

/** Runs a domain call for a mutation that answers `true` when it succeeds. */
export async function ok(work: Promise<unknown>): Promise<true> {
  await work;
  return true;
}
