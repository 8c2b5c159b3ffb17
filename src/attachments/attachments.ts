import { randomUUID } from "node:crypto";
import type { PrismaClient } from "../db/client.js";
import { badInput, notFound } from "../errors.js";
import type { Attachment, MessageType } from "../generated/prisma/client.js";
import { isAllowedType, sniff } from "./file-types.js";
import { readMediaInfo } from "./media.js";
import type { AttachmentStore, Download, FileHeaders } from "./store.js";
import { fetchUrl, type UrlFetchOptions } from "./url-fetch.js";

/** Longest side of an image thumbnail, in pixels. */
const THUMBNAIL_PX = 320;

/**
 * Uploads: stored unattached, owned by the uploader, until sent with a message
 * (sendMessage attachmentIds). Image uploads get width, height and a WebP
 * thumbnail; audio and video their duration, video its size (media.ts). Reading an attachment requires membership of its message's room
 * (or being its uploader while it is unattached).
 */
export class Attachments {
  constructor(
    private readonly db: PrismaClient,
    private readonly store: AttachmentStore,
    /** Largest upload in bytes (MAX_ATTACHMENT_BYTES). */
    private readonly maxBytes: number,
    /** Longest an audio or video file's metadata is read for, in ms (MEDIA_PARSE_TIMEOUT_MS). */
    private readonly mediaParseTimeoutMs: number,
    /** How uploadFromUrl fetches (URL_FETCH_*); its maxBytes is `maxBytes`. */
    private readonly urlFetch: Omit<UrlFetchOptions, "maxBytes">,
    /**
     * The room membership rule a download of a sent attachment goes through (chat/access.ts requireMember,
     * passed in by app.ts: chat/ uses attachments/, not the other way round); throws NOT_FOUND / FORBIDDEN for non-members.
     */
    private readonly requireMember: (roomId: string, userId: string) => Promise<unknown>,
  ) {}

  /**
   * Stores an upload of `userId`: its files (the upload, and an image's thumbnail)
   * in the store, then its row, so a row never points to a missing file. When
   * that fails, the error is rethrown and there is no row; the stored files are
   * removed again when the database says there is none (they stay, unreferenced,
   * when it cannot say: it may have committed before it failed).
   * @throws BAD_USER_INPUT on `file` when empty, over the size limit, or of a type not in ALLOWED_TYPES (file-types.ts);
   * the store's error (store.ts isStoreUnavailable) or the database's as they come.
   */
  async upload(userId: string, file: File): Promise<Attachment> {
    if (typeof (file as Partial<File> | null)?.arrayBuffer !== "function")
      throw badInput("file", "file must be a file part of a multipart request");
    if (file.size > this.maxBytes) throw badInput("file", `The file is larger than ${this.maxBytes} bytes`);
    return this.save(userId, Buffer.from(await file.arrayBuffer()), file.name, "file");
  }

  /**
   * Fetches `url` as the server (url-fetch.ts: https only, public addresses only,
   * at most `maxBytes`, within URL_FETCH_TIMEOUT_MS) and stores it as an upload of
   * `userId`, as {@link upload} does, its name taken from the URL's path.
   * @throws BAD_USER_INPUT on `url` when the fetch is refused or fails, or the file
   * is empty, over the size limit or of a type not in ALLOWED_TYPES; else as {@link upload}.
   */
  async uploadFromUrl(userId: string, url: string): Promise<Attachment> {
    const { bytes, filename } = await fetchUrl(url, { ...this.urlFetch, maxBytes: this.maxBytes });
    return this.save(userId, bytes, filename, "url");
  }

  /** Checks, describes and stores `uploaded` (the steps of {@link upload}), its refusals on `field`. */
  private async save(userId: string, uploaded: Buffer, filename: string, field: "file" | "url"): Promise<Attachment> {
    if (uploaded.length === 0) throw badInput(field, "The file is empty");
    const mimeType = await sniff(uploaded);
    if (!isAllowedType(mimeType)) throw badInput(field, `Files of this type (${mimeType ?? "unknown"}) are not accepted`);
    const id = randomUUID();
    const image = mimeType.startsWith("image/") ? await describeImage(uploaded, mimeType, field) : null;
    const media = /^(audio|video)\//.test(mimeType) ? await readMediaInfo(uploaded, mimeType, this.mediaParseTimeoutMs) : null;
    const bytes = image?.bytes ?? uploaded;
    const files = [
      { key: id, data: bytes, type: mimeType },
      ...(image ? [{ key: `${id}.thumb.webp`, data: image.thumbnail, type: "image/webp" }] : []),
    ];
    try {
      const stored = await Promise.allSettled(files.map((f) => this.store.put(f.key, f.data, f.type)));
      const failed = stored.find((s) => s.status === "rejected");
      if (failed) throw failed.reason;
      return await this.db.attachment.create({
        data: {
          id,
          uploaderId: userId,
          filename: cleanFilename(filename),
          mimeType,
          size: bytes.length,
          width: image?.width ?? media?.width ?? null,
          height: image?.height ?? media?.height ?? null,
          durationSeconds: media?.durationSeconds ?? null,
          storageKey: id,
          thumbnailKey: image ? `${id}.thumb.webp` : null,
        },
      });
    } catch (e) {
      const row = await this.db.attachment.findUnique({ where: { id }, select: { id: true } }).catch(() => undefined);
      if (row === null) await this.removeFiles(files.map((f) => f.key)).catch(() => undefined);
      throw e;
    }
  }

  /**
   * How to answer a `method` download of an attachment (or of its thumbnail) for
   * `userId`, and the headers that say what it is: pictures, audio, video and PDFs
   * are shown inline, everything else downloads, with the sniffed type.
   * @throws NOT_FOUND when missing or not visible to them (no thumbnail, another
   * room, someone else's unsent upload); FORBIDDEN for a PUBLIC room they have not joined.
   */
  async download(
    userId: string,
    attachmentId: string,
    thumbnail: boolean,
    method: "GET" | "HEAD",
  ): Promise<{ headers: FileHeaders; download: Download }> {
    const attachment = await this.db.attachment.findUnique({
      where: { id: attachmentId },
      include: { message: { select: { roomId: true } } },
    });
    if (!attachment) throw notFound("Attachment");
    if (attachment.message) await this.requireMember(attachment.message.roomId, userId);
    else if (attachment.uploaderId !== userId) throw notFound("Attachment");
    const key = thumbnail ? attachment.thumbnailKey : attachment.storageKey;
    if (!key) throw notFound("Attachment");
    const type = thumbnail ? "image/webp" : attachment.mimeType;
    const inline = /^(image|audio|video)\//.test(type) || type === "application/pdf";
    const headers: FileHeaders = {
      "content-type": type,
      "content-disposition": `${inline ? "inline" : "attachment"}; filename*=UTF-8''${encodeURIComponent(attachment.filename)}`,
      "cache-control": "private, max-age=3600",
    };
    const download = await this.store.download(key, method, headers);
    if (!download) throw notFound("Attachment");
    return { headers, download };
  }

  /** Deletes stored files (of purged messages), after their rows are gone. */
  async removeFiles(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.store.delete(key)));
  }
}

/** The message type that attachments of `mimeType` make (the first attachment decides). */
export function messageTypeOf(mimeType: string): MessageType {
  if (mimeType.startsWith("image/")) return "IMAGE";
  if (mimeType.startsWith("video/")) return "VIDEO";
  if (mimeType.startsWith("audio/")) return "AUDIO";
  return "FILE";
}

/** Still images re-encoded upright and without metadata (EXIF: camera, GPS); GIFs kept as they are (animation). */
const REENCODED = new Set(["image/jpeg", "image/png", "image/webp"]);

/**
 * Measures an image as it is shown (EXIF orientation applied) and makes its
 * thumbnail. JPEG, PNG and WebP are also re-encoded upright with their metadata
 * stripped, so a phone photo's location does not travel with it.
 * @throws BAD_USER_INPUT on `field` when the image cannot be decoded.
 */
async function describeImage(
  uploaded: Buffer,
  mimeType: string,
  field: "file" | "url",
): Promise<{ width: number; height: number; thumbnail: Buffer; bytes: Buffer | null }> {
  const { default: sharp } = await import("sharp"); // loaded by the first image, not at start (docs/performance.md)
  try {
    const bytes = REENCODED.has(mimeType) ? await sharp(uploaded).rotate().toBuffer() : null;
    const { autoOrient } = await sharp(bytes ?? uploaded).metadata();
    const thumbnail = await sharp(uploaded)
      .rotate()
      .resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: "inside", withoutEnlargement: true })
      .webp()
      .toBuffer();
    return { width: autoOrient.width, height: autoOrient.height, thumbnail, bytes };
  } catch {
    throw badInput(field, "The image could not be read");
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what cleanFilename strips
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** The client's file name without any path, control characters or excess length; "file" when nothing is left. */
function cleanFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const clean = base.replace(CONTROL_CHARACTERS, "").trim().slice(0, 255);
  return clean || "file";
}
