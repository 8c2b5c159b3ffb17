import { SignJWT } from "jose";
import sharp from "sharp";
import { TEST_JWT_SECRET } from "./server.js";

/** A `width`×`height` picture of one colour in `format`. */
export const image = (format: "png" | "jpeg" | "gif" | "webp", width = 800, height = 600) =>
  sharp({ create: { width, height, channels: 3, background: "#36c" } })[format]().toBuffer();
/** A minimal PDF (application/pdf by its signature). */
export const PDF = Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
/** Plain UTF-8 text (text/plain: no signature, valid UTF-8 without NULs). */
export const TEXT = Buffer.from("Grocery list:\n- tea\n- scones ☕\n", "utf8");
/** A Windows executable header (file-type: application/x-msdownload, not accepted). */
export const EXE = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(58), Buffer.from([0x40, 0, 0, 0]), Buffer.from("PE\0\0"), Buffer.alloc(200)]);

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
