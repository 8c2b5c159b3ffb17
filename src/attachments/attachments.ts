import { randomUUID } from "node:crypto";
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";
import { requireMember } from "../chat/access.js";
import type { PrismaClient } from "../db/client.js";
import { badInput, notFound } from "../errors.js";
import type { Attachment, MessageType } from "../generated/prisma/client.js";
import type { AttachmentStore } from "./store.js";

/**
 * The file types an upload may be, by the MIME type sniffed from its bytes
 * (file-type), never by the client's claim: pictures, audio, video, PDF, ZIP,
 * and plain UTF-8 text (which has no signature to sniff).
 */
export const ALLOWED_TYPES = new Set([
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "audio/mpeg",
  "audio/ogg",
  "audio/opus",
  "audio/wav",
  "audio/x-wav",
  "audio/mp4",
  "audio/x-m4a",
  "audio/webm",
  "video/mp4",
  "video/webm",
  "video/quicktime",
  "application/pdf",
  "application/zip",
  "text/plain",
]);

/** Longest side of an image thumbnail, in pixels. */
const THUMBNAIL_PX = 320;

/**
 * Uploads: stored unattached, owned by the uploader, until sent with a message
 * (sendMessage attachmentIds). Image uploads get width, height and a WebP
 * thumbnail. Reading an attachment requires membership of its message's room
 * (or being its uploader while it is unattached).
 */
export class Attachments {
  constructor(
    private readonly db: PrismaClient,
    private readonly store: AttachmentStore,
    /** Largest upload in bytes (MAX_ATTACHMENT_BYTES). */
    private readonly maxBytes: number,
  ) {}

  /**
   * Stores an upload of `userId`.
   * @throws BAD_USER_INPUT on `file` when empty, over the size limit, or of a type not in {@link ALLOWED_TYPES}.
   */
  async upload(userId: string, file: File): Promise<Attachment> {
    if (file.size === 0) throw badInput("file", "The file is empty");
    if (file.size > this.maxBytes) throw badInput("file", `The file is larger than ${this.maxBytes} bytes`);
    const bytes = Buffer.from(await file.arrayBuffer());
    const mimeType = await sniff(bytes);
    if (!mimeType || !ALLOWED_TYPES.has(mimeType)) throw badInput("file", `Files of this type (${mimeType ?? "unknown"}) are not accepted`);
    const id = randomUUID();
    const image = mimeType.startsWith("image/") ? await describeImage(bytes) : null;
    await this.store.put(id, bytes);
    if (image) await this.store.put(`${id}.thumb.webp`, image.thumbnail);
    return this.db.attachment.create({
      data: {
        id,
        uploaderId: userId,
        filename: cleanFilename(file.name),
        mimeType,
        size: bytes.length,
        width: image?.width ?? null,
        height: image?.height ?? null,
        storageKey: id,
        thumbnailKey: image ? `${id}.thumb.webp` : null,
      },
    });
  }

  /**
   * The bytes of an attachment (or of its thumbnail) for `userId`.
   * @throws NOT_FOUND when missing or not visible to them (no thumbnail, another
   * room, someone else's unsent upload); FORBIDDEN for a PUBLIC room they have not joined.
   */
  async read(userId: string, attachmentId: string, thumbnail: boolean): Promise<{ attachment: Attachment; bytes: Buffer }> {
    const attachment = await this.db.attachment.findUnique({ where: { id: attachmentId }, include: { message: { select: { roomId: true } } } });
    if (!attachment) throw notFound("Attachment");
    if (attachment.message) await requireMember(this.db, attachment.message.roomId, userId);
    else if (attachment.uploaderId !== userId) throw notFound("Attachment");
    const key = thumbnail ? attachment.thumbnailKey : attachment.storageKey;
    const bytes = key ? await this.store.get(key) : null;
    if (!bytes) throw notFound("Attachment");
    return { attachment, bytes };
  }
}

/** The message type that attachments of `mimeType` make (the first attachment decides). */
export function messageTypeOf(mimeType: string): MessageType {
  if (mimeType.startsWith("image/")) return "IMAGE";
  if (mimeType.startsWith("video/")) return "VIDEO";
  if (mimeType.startsWith("audio/")) return "AUDIO";
  return "FILE";
}

/** The MIME type of `bytes` by their signature; text/plain for valid UTF-8 without NULs; else null. */
async function sniff(bytes: Buffer): Promise<string | null> {
  const type = await fileTypeFromBuffer(bytes);
  if (type) return type.mime;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.includes("\0") ? null : "text/plain";
  } catch {
    return null;
  }
}

async function describeImage(bytes: Buffer): Promise<{ width: number; height: number; thumbnail: Buffer }> {
  try {
    const { width, height } = await sharp(bytes).metadata();
    const thumbnail = await sharp(bytes).rotate().resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: "inside", withoutEnlargement: true }).webp().toBuffer();
    return { width: width ?? 0, height: height ?? 0, thumbnail };
  } catch {
    throw badInput("file", "The image could not be read");
  }
}

/** The client's file name without any path, control characters or excess length; "file" when nothing is left. */
function cleanFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, "").trim().slice(0, 255);
  return clean || "file";
}
