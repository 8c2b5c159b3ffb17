import { readFileSync } from "node:fs";
import { SignJWT } from "jose";
import sharp from "sharp";
import { TEST_JWT_SECRET } from "./server.js";

/** A `width`×`height` picture of one colour in `format`. */
export const image = (format: "png" | "jpeg" | "gif" | "webp", width = 800, height = 600) =>
  sharp({ create: { width, height, channels: 3, background: "#36c" } })
    [format]()
    .toBuffer();
/** A minimal PDF (application/pdf by its signature). */
export const PDF = Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
/** Plain UTF-8 text (text/plain: no signature, valid UTF-8 without NULs). */
export const TEXT = Buffer.from("Grocery list:\n- tea\n- scones ☕\n", "utf8");
/**
 * A mono 16-bit PCM WAV of silence at 8000 Hz: `dataBytes` of samples (800: 0.05 s),
 * its data chunk declaring `declaredBytes` (a lying header when they differ).
 */
export function wav(dataBytes = 800, declaredBytes = dataBytes): Buffer {
  const b = Buffer.alloc(44 + dataBytes);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + dataBytes, 4);
  b.write("WAVE", 8);
  b.write("fmt ", 12);
  b.writeUInt32LE(16, 16); // fmt chunk size
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24); // sample rate
  b.writeUInt32LE(16000, 28); // byte rate
  b.writeUInt16LE(2, 32); // block align
  b.writeUInt16LE(16, 34); // bits per sample
  b.write("data", 36);
  b.writeUInt32LE(declaredBytes, 40);
  return b;
}
/**
 * Small real media files made once with ffmpeg (test/fixtures/media/README.md; the
 * tests do not need ffmpeg): voice.mp3 (1.656 s), voice.ogg (Opus,
 * 2 s), clip.mp4 (H.264 64×48 and AAC, ≈ 1.02 s), clip.webm (VP8 96×64, 1 s).
 */
export const media = (name: "voice.mp3" | "voice.ogg" | "clip.mp4" | "clip.webm") =>
  readFileSync(new URL(`../fixtures/media/${name}`, import.meta.url));
/** A Windows executable header (file-type: application/x-msdownload, not accepted). */
export const EXE = Buffer.concat([
  Buffer.from("MZ"),
  Buffer.alloc(58),
  Buffer.from([0x40, 0, 0, 0]),
  Buffer.from("PE\0\0"),
  Buffer.alloc(200),
]);

/** A download token as the server signs them (the test servers' JWT secret is known), with our own claims; expiring in 10 minutes unless `expiresAt` (Unix seconds) says otherwise. */
export const forgeToken = (attachmentId: string, userId: string, expiresAt = Math.floor(Date.now() / 1000) + 600) =>
  new SignJWT({ att: attachmentId })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setAudience("chat-graphql:attachment")
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));

/** An attachment URL with its token replaced by `token`. */
export const withToken = (url: string, token: string) => url.replace(/\?token=.*$/, `?token=${token}`);
