import { builder } from "./builder.js";

builder.scalarType("File", {
  description: "An uploaded file (GraphQL multipart request spec); input only.",
  serialize: () => {
    throw new Error("File is an input-only scalar");
  },
});

builder.prismaObject("Attachment", {
  description: "An uploaded file. Its URLs are signed for the viewer and work for about an hour; fetch them again after that.",
  fields: (t) => ({
    id: t.exposeID("id"),
    filename: t.exposeString("filename", { description: "The uploader's file name, without any path." }),
    mimeType: t.exposeString("mimeType", { description: "Sniffed from the file's bytes, not taken from the uploader." }),
    size: t.exposeInt("size", { description: "In bytes." }),
    width: t.exposeInt("width", { nullable: true, description: "Images and videos: width in pixels; null when a video does not say." }),
    height: t.exposeInt("height", { nullable: true, description: "Images and videos: height in pixels; null when a video does not say." }),
    durationSeconds: t.exposeFloat("durationSeconds", {
      nullable: true,
      description:
        "Audio (voice notes included) and video: length in seconds, read from the file at upload; null when it could not be read (truncated, unknown or too slow to parse).",
    }),
    url: t.string({
      description:
        "Where to download it (GET or HEAD, byte ranges too); checks the viewer's room membership. With the S3 store it answers 302 to a short-lived presigned URL of the bucket: follow redirects.",
      select: { id: true },
      resolve: (a, _args, ctx) => ctx.app.attachmentUrls.url(a.id, ctx.viewer!.userId, false),
    }),
    thumbnailUrl: t.string({
      nullable: true,
      description: `Images: a WebP thumbnail, at most 320 px on its longest side.`,
      select: { id: true, thumbnailKey: true },
      resolve: (a, _args, ctx) => (a.thumbnailKey ? ctx.app.attachmentUrls.url(a.id, ctx.viewer!.userId, true) : null),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObjectField("Message", "attachments", (t) =>
  t.relation("attachments", {
    description: "Files sent with the message, in upload order.",
    query: { orderBy: [{ createdAt: "asc" }, { id: "asc" }] },
  }),
);

builder.mutationField("uploadAttachment", (t) =>
  t.withAuth({ viewer: true }).prismaField({
    type: "Attachment",
    description:
      "Uploads a file (multipart request). Send it with sendMessage(input: { attachmentIds }); until then only you can see it. Accepted: JPEG, PNG, GIF, WebP, MP3, Ogg, Opus, WAV, M4A, WebM, MP4, QuickTime, PDF, ZIP, plain text; at most MAX_ATTACHMENT_BYTES (25 MiB by default).",
    args: { file: t.arg({ type: "File", required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const attachment = await ctx.app.attachments.upload(ctx.viewer.userId, args.file);
      return ctx.app.db.attachment.findUniqueOrThrow({ ...query, where: { id: attachment.id } });
    },
  }),
);

builder.mutationField("uploadAttachmentFromUrl", (t) =>
  t.withAuth({ viewer: true }).prismaField({
    type: "Attachment",
    description:
      "Has the server fetch a file from an https URL (e.g. a media link from an SMS or WhatsApp gateway) and store it as your upload, as uploadAttachment does: the same types and size limit, checked on the bytes. Only public addresses are fetched (never loopback, private, link-local or other internal ones), redirects are followed at most 3 times and checked the same way, and the whole fetch must end within URL_FETCH_TIMEOUT_MS (10 s by default). Every refusal is BAD_USER_INPUT on `url`.",
    args: { url: t.arg.string({ required: true, description: "An https URL, at most 2048 characters." }) },
    resolve: async (query, _root, args, ctx) => {
      const attachment = await ctx.app.attachments.uploadFromUrl(ctx.viewer.userId, args.url);
      return ctx.app.db.attachment.findUniqueOrThrow({ ...query, where: { id: attachment.id } });
    },
  }),
);
