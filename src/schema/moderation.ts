import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import type { RoomMember } from "../generated/prisma/client.js";
import { builder } from "./builder.js";
import { ok } from "./load.js";
import { viewerMembership } from "./room.js";
import { rules } from "./validation.js";

const ReportStatusEnum = builder.enumType("ReportStatus", {
  values: { OPEN: { description: "Waiting for a room OWNER or ADMIN" }, RESOLVED: { description: "Answered by resolveReport" } } as const,
});
const ReportResolutionEnum = builder.enumType("ReportResolution", {
  values: {
    DISMISS: { description: "Close the report; nothing else changes" },
    DELETE_MESSAGE: { description: "Delete the reported message (reports of a message only)" },
    BAN_USER: { description: "Ban the reported user from the room, with the report's reason" },
  } as const,
});
const ModerationActionEnum = builder.enumType("ModerationAction", {
  values: ["BAN", "UNBAN", "KICK", "DISMISS_REPORT", "DELETE_MESSAGE"] as const,
});

const ReportRef = builder.prismaObject("Report", {
  description: "A report of a message or a user to a room's OWNER and ADMINs (reportMessage, reportUser).",
  fields: (t) => ({
    id: t.exposeID("id"),
    reason: t.exposeString("reason"),
    status: t.expose("status", { type: ReportStatusEnum }),
    resolution: t.expose("resolution", {
      type: ReportResolutionEnum,
      nullable: true,
      description: "How it was resolved; null while OPEN.",
    }),
    reporter: t.relation("reporter"),
    reportedUser: t.relation("targetUser", { description: "The reported user, or the reported message's sender." }),
    message: t.relation("message", {
      nullable: true,
      description: "The reported message (its tombstone once deleted); null for a report of a user.",
    }),
    room: t.relation("room", { nullable: true, description: "Null for a report of a user in no room." }),
    resolvedBy: t.relation("resolvedBy", { nullable: true }),
    resolvedAt: t.expose("resolvedAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const ModerationLogEntryRef = builder.prismaObject("ModerationLogEntry", {
  description: "One row of a room's moderation audit log: a ban, unban, kick or report resolution.",
  fields: (t) => ({
    id: t.exposeID("id"),
    action: t.expose("action", { type: ModerationActionEnum }),
    actor: t.relation("actor", { nullable: true, description: "Who acted; null once their account is gone." }),
    target: t.relation("target", { nullable: true, description: "Who it was done to; null once their account is gone." }),
    reason: t.exposeString("reason", { nullable: true }),
    report: t.relation("report", { nullable: true, description: "The report this action resolved." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const RoomBanRef = builder.prismaObject("RoomBan", {
  description: "A user banned from a room until unbanMember.",
  fields: (t) => ({
    user: t.relation("user"),
    bannedBy: t.relation("bannedBy", { nullable: true }),
    reason: t.exposeString("reason"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const reports = prismaConnectionHelpers(builder, "Report", { cursor: "id" });
const moderationLog = prismaConnectionHelpers(builder, "ModerationLogEntry", { cursor: "id" });
/** The order of both connections: newest first (the helpers' `query` takes one orderBy object, not this list). */
const newestFirst = [{ createdAt: "desc" as const }, { id: "desc" as const }];

/** Whether the viewer's membership (selected by {@link viewerMembership}) is the room's OWNER or an ADMIN. */
const moderates = (room: { members: RoomMember[] }) => room.members[0]?.role === "OWNER" || room.members[0]?.role === "ADMIN";

/** The description's ending of the Room fields for moderators only. */
const MODERATORS_ONLY = "The room's OWNER and ADMINs only: null for everyone else.";

builder.prismaObjectFields("Room", (t) => ({
  reports: t.connection(
    {
      type: ReportRef,
      nullable: true,
      description: `Reports of the room's messages and members with \`status\` (default OPEN), newest first. ${MODERATORS_ONLY}`,
      args: { status: t.arg({ type: ReportStatusEnum, defaultValue: "OPEN" }) },
      select: (args, ctx, nested) => ({
        ...viewerMembership(ctx),
        reports: { ...reports.getQuery(args, ctx, nested), where: { status: args.status ?? "OPEN" }, orderBy: newestFirst },
      }),
      resolve: (room, args, ctx) => (moderates(room) ? reports.resolve(room.reports, args, ctx) : null),
    },
    { name: "ReportConnection" },
    { name: "ReportEdge" },
  ),
  moderationLog: t.connection(
    {
      type: ModerationLogEntryRef,
      nullable: true,
      description: `The room's moderation audit log (bans, unbans, kicks, report resolutions), newest first. ${MODERATORS_ONLY}`,
      select: (args, ctx, nested) => ({
        ...viewerMembership(ctx),
        moderationLog: { ...moderationLog.getQuery(args, ctx, nested), orderBy: newestFirst },
      }),
      resolve: (room, args, ctx) => (moderates(room) ? moderationLog.resolve(room.moderationLog, args, ctx) : null),
    },
    { name: "ModerationLogConnection" },
    { name: "ModerationLogEdge" },
  ),
  bans: t.field({
    type: [RoomBanRef],
    nullable: true,
    description: `Users banned from the room, newest ban first. ${MODERATORS_ONLY}`,
    select: (_args, ctx, nested) => ({
      ...viewerMembership(ctx),
      bans: nested({ orderBy: [{ createdAt: "desc" as const }, { userId: "asc" as const }] }),
    }),
    resolve: (room) => (moderates(room) ? room.bans : null),
  }),
}));

builder.mutationFields((t) => {
  const idArg = () => t.arg.id({ required: true, validate: rules.id });
  const reasonArg = () =>
    t.arg.string({ required: true, validate: rules.moderationReason, description: "1–500 characters; kept in the audit log." });
  return {
    banMember: t.withAuth({ viewer: true }).boolean({
      description:
        "Removes a user from the room and keeps them out (joinRoom, invites, acceptInvite, addRoomMember are FORBIDDEN) until unbanMember. A user who already left may be banned too. OWNER on ADMINs and MEMBERs, ADMINs on MEMBERs. Members get MemberLeft (BANNED), the user RemovedFromRoom.",
      args: { roomId: idArg(), userId: idArg(), reason: reasonArg() },
      resolve: (_root, args, ctx) => ok(ctx.app.bans.ban(ctx.viewer.userId, args.roomId, args.userId, args.reason)),
    }),
    unbanMember: t.withAuth({ viewer: true }).boolean({
      description: "Lifts a ban: the user may join or be invited again. OWNER or ADMIN.",
      args: { roomId: idArg(), userId: idArg() },
      resolve: (_root, args, ctx) => ok(ctx.app.bans.unban(ctx.viewer.userId, args.roomId, args.userId)),
    }),
    kickMember: t.withAuth({ viewer: true }).boolean({
      description:
        "Removes a member now; they may come back where the room allows (joinRoom on a PUBLIC room, a new invite). OWNER on ADMINs and MEMBERs, ADMINs on MEMBERs. Members get MemberLeft (KICKED), the user RemovedFromRoom.",
      args: { roomId: idArg(), userId: idArg(), reason: reasonArg() },
      resolve: (_root, args, ctx) => ok(ctx.app.bans.kick(ctx.viewer.userId, args.roomId, args.userId, args.reason)),
    }),
    reportMessage: t.withAuth({ viewer: true }).prismaField({
      type: "Report",
      description:
        "Reports a message of one of your rooms to its OWNER and ADMINs. Reporting it again while your report is OPEN returns that report. Rate limited.",
      args: { messageId: idArg(), reason: reasonArg() },
      resolve: async (query, _root, args, ctx) => {
        const report = await ctx.app.reports.reportMessage(ctx.viewer.userId, args.messageId, args.reason);
        return ctx.app.db.report.findUniqueOrThrow({ ...query, where: { id: report.id } });
      },
    }),
    reportUser: t.withAuth({ viewer: true }).prismaField({
      type: "Report",
      description:
        "Reports a user: to the OWNER and ADMINs of `roomId` (both of you members), or without a room to the platform's operators. Reporting them again while your report is OPEN returns that report. Rate limited.",
      args: { userId: idArg(), roomId: t.arg.id({ validate: rules.id }), reason: reasonArg() },
      resolve: async (query, _root, args, ctx) => {
        const report = await ctx.app.reports.reportUser(ctx.viewer.userId, args.userId, args.roomId ?? null, args.reason);
        return ctx.app.db.report.findUniqueOrThrow({ ...query, where: { id: report.id } });
      },
    }),
    resolveReport: t.withAuth({ viewer: true }).prismaField({
      type: "Report",
      description:
        "Resolves an OPEN report of the room: dismiss it, delete the reported message, or ban the reported user. OWNER or ADMIN; audited.",
      args: { reportId: idArg(), action: t.arg({ type: ReportResolutionEnum, required: true }) },
      resolve: async (query, _root, args, ctx) => {
        const report = await ctx.app.reports.resolve(ctx.viewer.userId, args.reportId, args.action);
        return ctx.app.db.report.findUniqueOrThrow({ ...query, where: { id: report.id } });
      },
    }),
  };
});
