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

/**
 * True when `mimeType` is one of {@link ALLOWED_TYPES}, parameters aside: file-type
 * names an Opus voice note `audio/ogg; codecs=opus`, kept as the stored type.
 */
export function isAllowedType(mimeType: string | null | undefined): mimeType is string {
  return Boolean(mimeType && ALLOWED_TYPES.has(mimeType.split(";")[0]!.trim().toLowerCase()));
}

/** The MIME type of `bytes` by their signature; text/plain for valid UTF-8 without NULs; else null. */
export async function sniff(bytes: Buffer): Promise<string | null> {
  const { fileTypeFromBuffer } = await import("file-type"); // loaded by the first upload, not at start (docs/performance.md)
  const type = await fileTypeFromBuffer(bytes);
  if (type) return type.mime;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.includes("\0") ? null : "text/plain";
  } catch {
    return null;
  }
}
