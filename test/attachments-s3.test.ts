/**
 * Attachments in an S3-compatible bucket (ATTACHMENTS_STORE=s3) on a local S3
 * server (s3rver, in this process): uploads over the GraphQL multipart request
 * go to the bucket with their sniffed type and nothing to disk; a download URL
 * is checked by the node as with the disk store (token, membership) and then
 * redirected to a short-lived presigned URL that serves the bytes with the same
 * headers, HEAD and byte ranges; a non-member or removed member gets no presigned
 * URL; the upload limits hold; nothing is half-written (a failed insert leaves no
 * object, an unreachable bucket no row); deleting a message deletes its objects;
 * and two node processes without a shared disk serve each other's uploads.
 */
import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXE, forgeToken, image, TEXT, withToken } from "./helpers/attachment-files.js";
import { errorCode, ext, gqlOk, on, postFile, registerUser, type TestUser } from "./helpers/client.js";
import { freePort, type NodeProcess } from "./helpers/node-process.js";
import { useNodes } from "./helpers/nodes.js";
import { startS3, type TestS3 } from "./helpers/s3.js";
import { startTestServer, useTestServer } from "./helpers/server.js";

const UPLOAD = `mutation($file: File!) { uploadAttachment(file: $file) { id mimeType size url thumbnailUrl } }`;
const CREATE = `mutation($m: [ID!]) { createRoom(input: { name: "Bucket", type: GROUP, memberIds: $m }) { id } }`;
const SEND = `mutation($r: ID!, $ids: [ID!]) { sendMessage(input: { roomId: $r, attachmentIds: $ids }) { id attachments { id url thumbnailUrl } } }`;
const HISTORY = `query($r: ID!) { messages(roomId: $r, first: 50) { edges { node { id attachments { id url thumbnailUrl } } } } }`;

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.close());
// after the bucket's hooks: started once it runs, closed before it stops
const {
  server,
  api,
  users: [alice, bob, mallory],
} = useTestServer(["alice", "bob", "mallory"], () => ({ env: s3.env }));
let origin: string;
let roomId: string;
beforeAll(async () => {
  origin = server.url.replace(/\/graphql$/, "");
  roomId = (await api.ok(alice, CREATE, { m: [bob.id] })).createRoom.id;
});

/** Uploads as `user` to `url` (default: the server) and returns the attachment; fails on any error. */
async function upload(
  user: TestUser,
  bytes: Uint8Array,
  filename: string,
  url = server.url,
): Promise<{ id: string; mimeType: string; size: number; url: string; thumbnailUrl: string | null }> {
  const { status, body } = await postFile(url, UPLOAD, { bytes, filename, type: "application/octet-stream" }, user.accessToken);
  if (status !== 200 || body.errors) throw new Error(`upload failed: HTTP ${status} ${JSON.stringify(body)}`);
  return body.data!.uploadAttachment;
}

/** GETs (or HEADs) a node's attachment URL without following its redirect. */
const atNode = (url: string, method = "GET", base = origin) => fetch(base + url, { method, redirect: "manual" });

/** The presigned URL a node's attachment URL redirects to; fails unless the answer is that redirect, not to be cached. */
async function presigned(url: string, method = "GET", base = origin): Promise<URL> {
  const response = await atNode(url, method, base);
  expect(response.status).toBe(302);
  expect(response.headers.get("cache-control")).toBe("private, no-store");
  return new URL(response.headers.get("location")!);
}

describe("uploads and downloads", () => {
  it("stores the upload and its thumbnail in the bucket with their types, nothing on disk", async () => {
    const png = await image("png");
    const a = await upload(alice, png, "photo.png");
    expect(a).toMatchObject({ mimeType: "image/png", size: png.length });
    expect(await s3.keys()).toEqual(expect.arrayContaining([a.id, `${a.id}.thumb.webp`]));
    const stored = await s3.object(a.id);
    expect(stored.contentType).toBe("image/png");
    expect(stored.bytes.equals(png)).toBe(true);
    expect((await s3.object(`${a.id}.thumb.webp`)).contentType).toBe("image/webp");
    expect(await readdir(server.app.config.ATTACHMENTS_DIR!)).toEqual([]);
  });

  it("redirects a checked download to a URL presigned for minutes, which serves the bytes with the node's headers", async () => {
    const png = await image("png", 400, 300);
    const a = await upload(alice, png, "ünïcode photo.png");
    const url = await presigned(a.url);
    expect(url.origin + url.pathname).toBe(`${s3.endpoint}/${s3.bucket}/${a.id}`);
    const params = url.searchParams;
    expect(params.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(params.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(params.get("X-Amz-Credential")).toMatch(/^S3RVER\//);
    // signed at the start of a 5-minute window, for two windows: at least 5 and at most 10 minutes left
    expect(params.get("X-Amz-Expires")).toBe("600");
    const signedAt = Date.parse(params.get("X-Amz-Date")!.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"));
    expect(signedAt % 300_000).toBe(0);
    expect(Date.now() - signedAt).toBeLessThan(300_000);
    // no checksum mode (requestChecksumCalculation / responseChecksumValidation WHEN_REQUIRED)
    expect(params.has("x-amz-checksum-mode")).toBe(false);
    // the same URL within the window: the browser's cache can serve it again
    expect((await presigned(a.url)).href).toBe(url.href);

    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("image/png");
    expect(got.headers.get("content-disposition")).toBe(`inline; filename*=UTF-8''${encodeURIComponent("ünïcode photo.png")}`);
    expect(got.headers.get("cache-control")).toBe("private, max-age=3600");
    expect(Buffer.from(await got.arrayBuffer()).equals(png)).toBe(true);

    // as a browser does: following the redirect
    const thumb = await fetch(origin + a.thumbnailUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/webp");
    expect(Buffer.from(await thumb.arrayBuffer()).equals((await s3.object(`${a.id}.thumb.webp`)).bytes)).toBe(true);
  });

  it("serves text as a download; HEAD gets a URL signed for HEAD; byte ranges come from the bucket", async () => {
    const a = await upload(alice, TEXT, "notes.txt");
    const get = await presigned(a.url);
    const text = await fetch(get);
    expect(text.headers.get("content-type")).toBe("text/plain");
    expect(text.headers.get("content-disposition")).toMatch(/^attachment; filename\*=UTF-8''notes\.txt$/);
    expect(Buffer.from(await text.arrayBuffer()).equals(TEXT)).toBe(true);

    const head = await presigned(a.url, "HEAD");
    expect(get.searchParams.get("x-id")).toBe("GetObject");
    expect(head.searchParams.get("x-id")).toBeNull();
    expect(head.searchParams.get("X-Amz-Signature")).not.toBe(get.searchParams.get("X-Amz-Signature"));
    const headed = await fetch(head, { method: "HEAD" });
    expect(headed.status).toBe(200);
    expect(headed.headers.get("content-length")).toBe(String(TEXT.length));

    const part = await fetch(get, { headers: { range: "bytes=0-12" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 0-12/${TEXT.length}`);
    expect(await part.text()).toBe("Grocery list:");
  });
});

describe("who gets a presigned URL: the disk store's rule", () => {
  it("a member does; a non-member, even with a validly signed token naming her, gets 404 and no URL", async () => {
    const a = await upload(alice, await image("png", 40, 30), "private.png");
    const message = (await api.ok(alice, SEND, { r: roomId, ids: [a.id] })).sendMessage;
    const bobs = (await api.ok(bob, HISTORY, { r: roomId })).messages.edges.find((e: any) => e.node.id === message.id).node.attachments[0];
    expect((await presigned(bobs.url)).pathname).toBe(`/${s3.bucket}/${a.id}`);

    expect(errorCode(await on(server.url).run(mallory, HISTORY, { r: roomId }))).toBe("NOT_FOUND");
    for (const url of [bobs.url, bobs.thumbnailUrl]) {
      const response = await atNode(withToken(url, await forgeToken(a.id, mallory.id)));
      expect(response.status).toBe(404);
      expect(response.headers.get("location")).toBeNull();
    }
    // no token, or one for another attachment: 401
    expect((await atNode(`/attachments/${a.id}`)).status).toBe(401);
    const otherId = a.id.replace(/.$/, (last: string) => (last === "0" ? "1" : "0"));
    expect((await atNode(withToken(bobs.url, await forgeToken(otherId, bob.id)))).status).toBe(401);
  });

  it("an unsent upload's URL works for its uploader only", async () => {
    const a = await upload(alice, TEXT, "draft.txt");
    expect((await atNode(a.url)).status).toBe(302);
    const forged = await atNode(withToken(a.url, await forgeToken(a.id, bob.id)));
    expect([forged.status, forged.headers.get("location")]).toEqual([404, null]);
  });

  it("a removed member's URL stops redirecting (404)", async () => {
    const room = (await api.ok(alice, CREATE, { m: [bob.id] })).createRoom.id;
    const a = await upload(alice, TEXT, "leaving.txt");
    await api.ok(alice, SEND, { r: room, ids: [a.id] });
    const bobs = (await api.ok(bob, HISTORY, { r: room })).messages.edges[0].node.attachments[0];
    expect((await atNode(bobs.url)).status).toBe(302);
    await api.ok(alice, `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`, { r: room, u: bob.id });
    const after = await atNode(bobs.url);
    expect([after.status, after.headers.get("location")]).toEqual([404, null]);
  });
});

describe("limits and failures: nothing half-written", () => {
  const {
    server: small,
    users: [uploader],
  } = useTestServer(["uploader"], () => ({ env: { ...s3.env, MAX_ATTACHMENT_BYTES: "100000" } }));

  it("refuses a file over MAX_ATTACHMENT_BYTES with 413 and a refused type with BAD_USER_INPUT, storing nothing", async () => {
    const keys = await s3.keys();
    const big = await postFile(
      small.url,
      UPLOAD,
      { bytes: Buffer.alloc(100_001, "a"), filename: "big.txt", type: "text/plain" },
      uploader.accessToken,
    );
    expect(big.status).toBe(413);
    const exe = await postFile(small.url, UPLOAD, { bytes: EXE, filename: "setup.exe", type: "image/png" }, uploader.accessToken);
    expect(ext(exe.body)).toMatchObject({ code: "BAD_USER_INPUT", field: "file" });
    expect(await small.app.db.attachment.count()).toBe(0);
    expect(await s3.keys()).toEqual(keys);
    // exactly the limit is stored
    const edge = await upload(uploader, Buffer.alloc(100_000, "a"), "edge.txt", small.url);
    expect(await s3.keys()).toContain(edge.id);
  });

  it("an insert that fails after the objects were stored removes them again", async () => {
    const keys = await s3.keys();
    const before = await small.app.db.attachment.count();
    await small.app.db.$executeRawUnsafe(`ALTER TABLE "Attachment" ADD CONSTRAINT test_no_inserts CHECK (false) NOT VALID`);
    try {
      const { body } = await postFile(
        small.url,
        UPLOAD,
        { bytes: await image("png", 20, 20), filename: "doomed.png", type: "image/png" },
        uploader.accessToken,
      );
      expect(body.data?.uploadAttachment ?? null).toBeNull();
      expect(body.errors).toHaveLength(1);
    } finally {
      await small.app.db.$executeRawUnsafe(`ALTER TABLE "Attachment" DROP CONSTRAINT test_no_inserts`);
    }
    expect(await small.app.db.attachment.count()).toBe(before);
    expect(await s3.keys()).toEqual(keys);
  });

  it("an unreachable bucket: SERVICE_UNAVAILABLE, and no row", async () => {
    const down = await startTestServer({ env: { ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${await freePort()}` } });
    try {
      const user = await registerUser(down.url, "stranded");
      const { body } = await postFile(down.url, UPLOAD, { bytes: TEXT, filename: "lost.txt", type: "text/plain" }, user.accessToken);
      expect(body.data?.uploadAttachment ?? null).toBeNull();
      expect(body.errors?.[0]).toMatchObject({
        message: "Attachment storage unavailable; retry later",
        extensions: { code: "SERVICE_UNAVAILABLE" },
      });
      expect(await down.app.db.attachment.count()).toBe(0);
    } finally {
      await down.close();
    }
  });

  it("deleting a message deletes its objects", async () => {
    const a = await upload(alice, await image("jpeg", 60, 40), "gone.jpg");
    const message = (await api.ok(alice, SEND, { r: roomId, ids: [a.id] })).sendMessage;
    expect(await s3.keys()).toEqual(expect.arrayContaining([a.id, `${a.id}.thumb.webp`]));
    await api.ok(alice, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: message.id });
    const keys = await s3.keys();
    expect(keys).not.toContain(a.id);
    expect(keys).not.toContain(`${a.id}.thumb.webp`);
    expect((await atNode(message.attachments[0].url)).status).toBe(404);
  });
});

describe("two node processes, one bucket, no shared disk", () => {
  // a directory no node can create: any upload written to disk would fail
  const {
    nodes: [a, b],
  } = useNodes(2, () => ({ ...s3.env, ATTACHMENTS_DIR: "/dev/null/attachments" }));

  it("each node serves the other's uploads", async () => {
    const originOf = (node: NodeProcess) => node.url.replace(/\/graphql$/, "");
    const [ann, ben] = [await registerUser(a.url, "ann"), await registerUser(b.url, "ben")];
    const room = (await gqlOk(a.url, CREATE, { m: [ben.id] }, ann.accessToken)).createRoom.id;
    const png = await image("png", 120, 90);
    const fromA = await upload(ann, png, "from-a.png", a.url);
    const fromB = await upload(ben, TEXT, "from-b.txt", b.url);
    await gqlOk(a.url, SEND, { r: room, ids: [fromA.id] }, ann.accessToken);
    await gqlOk(b.url, SEND, { r: room, ids: [fromB.id] }, ben.accessToken);

    // ben reads ann's photo through B, ann reads ben's notes through A
    const bensView = (await gqlOk(b.url, HISTORY, { r: room }, ben.accessToken)).messages.edges.flatMap((e: any) => e.node.attachments);
    const photo = bensView.find((x: { id: string }) => x.id === fromA.id);
    const gotPhoto = await fetch(originOf(b) + photo.url);
    expect(gotPhoto.status).toBe(200);
    expect(Buffer.from(await gotPhoto.arrayBuffer()).equals(png)).toBe(true);
    expect((await fetch(originOf(b) + photo.thumbnailUrl)).headers.get("content-type")).toBe("image/webp");

    const annsView = (await gqlOk(a.url, HISTORY, { r: room }, ann.accessToken)).messages.edges.flatMap((e: any) => e.node.attachments);
    const notes = await fetch(originOf(a) + annsView.find((x: { id: string }) => x.id === fromB.id).url);
    expect(notes.status).toBe(200);
    expect(Buffer.from(await notes.arrayBuffer()).equals(TEXT)).toBe(true);
  });
});
