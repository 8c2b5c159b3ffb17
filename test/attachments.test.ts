/**
 * Attachments: uploadAttachment over the GraphQL multipart request spec (type
 * sniffed from the bytes, file name without path, image size and WebP
 * thumbnail; refusals of unknown types, empty and oversized files, anonymous
 * uploads), sending them with sendMessage (message type from the first
 * attachment, VOICE, reuse and ownership checks, nothing written on refusal),
 * and the signed download URLs (headers and bytes, tampered, forged and
 * expired tokens, membership re-checked on every download), photos stored
 * upright without EXIF, and attachments deleted with their message (delete, expiry).
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { EXE, forgeToken, image, PDF, TEXT, wav, withToken } from "./helpers/attachment-files.js";
import { errorCode, ext, type GqlResponse, postFile, type TestUser } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

// the suite uploads far more than a user's 30 per minute (rate-limits.test.ts tests that limit)
const {
  server,
  api: { run, ok },
  users: [alice, bob, mallory],
} = useTestServer(["alice", "bob", "mallory"], { env: { RATE_LIMIT_UPLOAD: "1000/60" } });
let origin: string;
let roomId: string;
beforeAll(async () => {
  origin = server.url.replace(/\/graphql$/, "");
  roomId = (await ok(alice, CREATE, { input: { name: "Photos", type: GROUP, memberIds: [bob.id] } })).createRoom.id;
});

const GROUP = "GROUP";
const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const REMOVE = `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) }`;
const FIELDS = `id filename mimeType size width height url thumbnailUrl createdAt`;
const UPLOAD = `mutation($file: File!) { uploadAttachment(file: $file) { ${FIELDS} } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id type content attachments { ${FIELDS} } } }`;
const HISTORY = `query($r: ID!) { messages(roomId: $r, first: 100) { edges { node { id type content attachments { ${FIELDS} } } } } }`;

// ---- helpers ----

/** POSTs uploadAttachment as a GraphQL multipart request; resolves the HTTP status and the parsed body. */
async function uploadRaw(
  token: string | undefined,
  bytes: Uint8Array,
  filename: string,
  type = "application/octet-stream",
  baseUrl = server.url,
): Promise<{ status: number; body: GqlResponse }> {
  return postFile(baseUrl, UPLOAD, { bytes, filename, type }, token);
}

/** Uploads as `user` and returns the attachment; fails on any error. */
async function upload(user: TestUser, bytes: Uint8Array, filename: string, type?: string): Promise<any> {
  const { status, body } = await uploadRaw(user.accessToken, bytes, filename, type);
  if (body.errors?.length || status !== 200) throw new Error(`upload failed: HTTP ${status} ${JSON.stringify(body)}`);
  return body.data!.uploadAttachment;
}

/** GETs a path-only attachment URL from the server's origin. */
async function download(url: string): Promise<{ status: number; type: string | null; headers: Headers; bytes: Buffer }> {
  expect(url).toMatch(/^\/attachments\/[0-9a-f-]{36}(\/thumbnail)?\?token=/);
  const response = await fetch(origin + url);
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    headers: response.headers,
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

const send = (user: TestUser, input: Record<string, unknown>, room = roomId) => run(user, SEND, { input: { roomId: room, ...input } });
const sendOk = async (user: TestUser, input: Record<string, unknown>, room = roomId) =>
  (await ok(user, SEND, { input: { roomId: room, ...input } })).sendMessage;
const messageCount = async (room = roomId) => (await ok(alice, HISTORY, { r: room })).messages.edges.length as number;
const attachmentRow = (id: string) => server.app.db.attachment.findUniqueOrThrow({ where: { id } });

// ---- tests ----

describe("uploadAttachment", () => {
  it("sniffs the type from the bytes, strips the path from the name, and describes an image with a WebP thumbnail", async () => {
    const png = await image("png");
    const a = await upload(alice, png, "../../evil/photo.pdf", "application/pdf");
    expect(a).toMatchObject({ mimeType: "image/png", filename: "photo.pdf", size: png.length, width: 800, height: 600 });
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.url).toMatch(new RegExp(`^/attachments/${a.id}\\?token=`));
    expect(a.thumbnailUrl).toMatch(new RegExp(`^/attachments/${a.id}/thumbnail\\?token=`));

    const thumb = await download(a.thumbnailUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.type).toBe("image/webp");
    const meta = await sharp(thumb.bytes).metadata();
    expect(meta.format).toBe("webp");
    expect(Math.max(meta.width!, meta.height!)).toBe(320);
    expect(meta.width! / meta.height!).toBeCloseTo(800 / 600, 1);
  });

  it.each([
    ["jpeg", "image/jpeg"],
    ["gif", "image/gif"],
    ["webp", "image/webp"],
  ] as const)("accepts a %s image with its size and a thumbnail", async (format, mimeType) => {
    const bytes = await image(format, 200, 500);
    const a = await upload(alice, bytes, `pic.${format}`);
    expect(a).toMatchObject({ mimeType, size: bytes.length, width: 200, height: 500 });
    const meta = await sharp((await download(a.thumbnailUrl)).bytes).metadata();
    // never enlarged: 200×500 fits in 320 px as 128×320
    expect([meta.format, meta.width, meta.height]).toEqual(["webp", 128, 320]);
  });

  it("takes plain UTF-8 text as text/plain, with no size in pixels and no thumbnail", async () => {
    const a = await upload(alice, TEXT, "list.txt", "image/png");
    expect(a).toMatchObject({
      mimeType: "text/plain",
      filename: "list.txt",
      size: TEXT.length,
      width: null,
      height: null,
      thumbnailUrl: null,
    });
    expect(a.url).toMatch(/^\/attachments\//);
  });

  it("takes a PDF as application/pdf", async () => {
    const a = await upload(alice, PDF, "report.pdf", "text/plain");
    expect(a).toMatchObject({ mimeType: "application/pdf", size: PDF.length, width: null, height: null, thumbnailUrl: null });
  });

  it.each([
    ["a Windows executable", EXE],
    ["random binary with NULs", Buffer.from([0x01, 0x02, 0x00, 0x00, 0x03, 0xff, 0xfe, 0x00, 0x07, 0x80, 0x81, 0x00])],
    [
      "a PNG signature with garbage after it",
      Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("IHDR not really an image")]),
    ],
    ["an empty file", Buffer.alloc(0)],
  ])("refuses %s with BAD_USER_INPUT on file, storing nothing", async (_label, bytes) => {
    const before = await server.app.db.attachment.count();
    const { body } = await uploadRaw(alice.accessToken, bytes, "thing.png", "image/png");
    expect(body.data?.uploadAttachment ?? null).toBeNull();
    expect(ext(body)).toMatchObject({ code: "BAD_USER_INPUT", field: "file" });
    expect(await server.app.db.attachment.count()).toBe(before);
  });

  it("refuses an anonymous upload with UNAUTHENTICATED", async () => {
    const before = await server.app.db.attachment.count();
    const { body } = await uploadRaw(undefined, await image("png", 10, 10), "a.png", "image/png");
    expect(ext(body)?.code).toBe("UNAUTHENTICATED");
    expect(await server.app.db.attachment.count()).toBe(before);
  });

  describe("with MAX_ATTACHMENT_BYTES=100000", () => {
    const {
      server: small,
      users: [user],
    } = useTestServer(["uploader"], { env: { MAX_ATTACHMENT_BYTES: "100000" } });

    it("refuses a larger file with HTTP 413 and an error naming the limit", async () => {
      const { status, body } = await uploadRaw(user.accessToken, Buffer.alloc(100_001, "a"), "big.txt", "text/plain", small.url);
      expect(status).toBe(413);
      expect(body.data?.uploadAttachment ?? null).toBeNull();
      expect(body.errors?.[0]?.message).toMatch(/\b100000 bytes\b/);
      expect(await small.app.db.attachment.count()).toBe(0);
    });

    it("accepts a file of exactly the limit", async () => {
      const { status, body } = await uploadRaw(user.accessToken, Buffer.alloc(100_000, "a"), "edge.txt", "text/plain", small.url);
      expect(body.errors).toBeUndefined();
      expect(status).toBe(200);
      expect(body.data?.uploadAttachment).toMatchObject({ mimeType: "text/plain", size: 100_000 });
    });
  });
});

describe("sendMessage with attachments", () => {
  it("sends an image without content as an IMAGE message listing it, for every member", async () => {
    const png = await image("png");
    const a = await upload(alice, png, "photo.png");
    const before = await messageCount();
    const message = await sendOk(alice, { attachmentIds: [a.id] });
    expect(message).toMatchObject({ type: "IMAGE", content: "" });
    expect(message.attachments).toHaveLength(1);
    expect(message.attachments[0]).toMatchObject({
      id: a.id,
      mimeType: "image/png",
      filename: "photo.png",
      size: png.length,
      width: 800,
      height: 600,
    });
    expect(await messageCount()).toBe(before + 1);
    expect((await attachmentRow(a.id)).messageId).toBe(message.id);

    // bob sees it in history with URLs of his own that download it
    const seen = (await ok(bob, HISTORY, { r: roomId })).messages.edges.find((e: any) => e.node.id === message.id).node;
    expect(seen.attachments.map((x: any) => x.id)).toEqual([a.id]);
    expect(seen.attachments[0].url).not.toBe(message.attachments[0].url);
    const got = await download(seen.attachments[0].url);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(png)).toBe(true);
  });

  it("sends an attachment with text content", async () => {
    const a = await upload(alice, await image("jpeg"), "photo.jpg");
    const message = await sendOk(alice, { content: "Look!", attachmentIds: [a.id] });
    expect(message).toMatchObject({ type: "IMAGE", content: "Look!", attachments: [{ id: a.id, mimeType: "image/jpeg" }] });
  });

  it("makes FILE messages of PDFs and text, AUDIO of WAV, and VOICE when asked", async () => {
    const pdf = await upload(alice, PDF, "r.pdf");
    expect((await sendOk(alice, { attachmentIds: [pdf.id] })).type).toBe("FILE");
    const txt = await upload(alice, TEXT, "l.txt");
    expect((await sendOk(alice, { attachmentIds: [txt.id] })).type).toBe("FILE");

    const audio = await upload(alice, wav(), "note.wav", "audio/wav");
    expect(audio).toMatchObject({ mimeType: expect.stringMatching(/^audio\/(x-)?wav$/), width: null, thumbnailUrl: null });
    expect((await sendOk(alice, { attachmentIds: [audio.id] })).type).toBe("AUDIO");
    const voice = await upload(alice, wav(), "voice.wav");
    const message = await sendOk(alice, { type: "VOICE", attachmentIds: [voice.id] });
    expect(message).toMatchObject({ type: "VOICE", content: "", attachments: [{ id: voice.id }] });
  });

  it("takes the type from the first attachment id, and lists attachments in upload order", async () => {
    const png = await upload(alice, await image("png", 40, 30), "first.png");
    const pdf = await upload(alice, PDF, "second.pdf");
    const message = await sendOk(alice, { attachmentIds: [pdf.id, png.id] });
    expect(message.type).toBe("FILE");
    expect(message.attachments.map((x: any) => x.id)).toEqual([png.id, pdf.id]);
  });

  it("attaches an id given twice once", async () => {
    const a = await upload(alice, TEXT, "dup.txt");
    const message = await sendOk(alice, { attachmentIds: [a.id, a.id] });
    expect(message.attachments.map((x: any) => x.id)).toEqual([a.id]);
  });

  it("accepts FILE for any attachment", async () => {
    const a = await upload(alice, await image("png", 20, 20), "as-file.png");
    expect((await sendOk(alice, { type: "FILE", attachmentIds: [a.id] })).type).toBe("FILE");
  });

  describe("refusals (nothing written: no message, the uploads stay unsent)", () => {
    /** Expects `input` to be refused with BAD_USER_INPUT on `field` (when given) and leaves no trace. */
    async function expectRefused(user: TestUser, input: Record<string, unknown>, field: string | undefined, unsent: string[] = []) {
      const before = await messageCount();
      const lastSeq = (await server.app.db.room.findUniqueOrThrow({ where: { id: roomId } })).lastSeq;
      const result = await send(user, input);
      expect(result.data?.sendMessage ?? null).toBeNull();
      expect(ext(result)).toMatchObject({ code: "BAD_USER_INPUT", ...(field ? { field } : {}) });
      expect(await messageCount()).toBe(before);
      expect((await server.app.db.room.findUniqueOrThrow({ where: { id: roomId } })).lastSeq).toBe(lastSeq);
      for (const id of unsent) expect((await attachmentRow(id)).messageId).toBeNull();
    }

    it("VOICE with an image: input.type", async () => {
      const a = await upload(alice, await image("png", 30, 30), "v.png");
      await expectRefused(alice, { type: "VOICE", attachmentIds: [a.id] }, "input.type", [a.id]);
      // still usable afterwards
      expect((await sendOk(alice, { attachmentIds: [a.id] })).type).toBe("IMAGE");
    });

    it("IMAGE without any attachment: input.type", async () => {
      await expectRefused(alice, { type: "IMAGE", content: "no picture" }, "input.type");
    });

    it("an attachment sent already: input.attachmentIds", async () => {
      const a = await upload(alice, TEXT, "once.txt");
      const first = await sendOk(alice, { attachmentIds: [a.id] });
      await expectRefused(alice, { content: "again", attachmentIds: [a.id] }, "input.attachmentIds");
      expect((await attachmentRow(a.id)).messageId).toBe(first.id);
    });

    it("someone else's upload, alone or with one's own: input.attachmentIds", async () => {
      const bobs = await upload(bob, TEXT, "bobs.txt");
      const mine = await upload(alice, TEXT, "mine.txt");
      await expectRefused(alice, { content: "stolen", attachmentIds: [bobs.id] }, "input.attachmentIds", [bobs.id]);
      await expectRefused(alice, { content: "mixed", attachmentIds: [mine.id, bobs.id] }, "input.attachmentIds", [bobs.id, mine.id]);
      // bob can still send his own
      expect((await sendOk(bob, { attachmentIds: [bobs.id] })).attachments[0].id).toBe(bobs.id);
    });

    it("an unknown attachment id: input.attachmentIds", async () => {
      await expectRefused(alice, { content: "ghost", attachmentIds: ["00000000-0000-4000-8000-000000000000"] }, "input.attachmentIds");
    });

    it("11 attachments", async () => {
      const ids = await Promise.all(
        Array.from({ length: 11 }, (_, i) => upload(alice, Buffer.from(`file ${i}\n`), `f${i}.txt`).then((a) => a.id as string)),
      );
      await expectRefused(alice, { attachmentIds: ids }, "input.attachmentIds", ids);
      // ten are fine
      expect((await sendOk(alice, { attachmentIds: ids.slice(0, 10) })).attachments).toHaveLength(10);
    });

    it("no content and no attachments: input.content", async () => {
      await expectRefused(alice, {}, "input.content");
      await expectRefused(alice, { attachmentIds: [] }, "input.content");
    });
  });
});

describe("downloads", () => {
  it("serves the exact bytes with the sniffed type and nosniff to a room member", async () => {
    const png = await image("png");
    const a = await upload(alice, png, "evil.html", "text/html");
    const message = await sendOk(alice, { attachmentIds: [a.id] });
    const got = await download(message.attachments[0].url);
    expect(got.status).toBe(200);
    expect(got.type).toBe("image/png");
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(got.headers.get("content-disposition")).toMatch(/^inline; filename\*=UTF-8''evil\.html$/);
    expect(got.bytes.equals(png)).toBe(true);
  });

  it("serves text as a download, not inline", async () => {
    const a = await upload(alice, TEXT, "notes.txt");
    const got = await download(a.url);
    expect(got.status).toBe(200);
    expect(got.type).toMatch(/^text\/plain/);
    expect(got.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(got.bytes.equals(TEXT)).toBe(true);
  });

  it("refuses a missing, tampered, expired or other attachment's token with 401", async () => {
    const a = await upload(alice, TEXT, "t.txt");
    const b = await upload(alice, TEXT, "u.txt");
    const token = new URL(a.url, origin).searchParams.get("token")!;
    const flipped = token.slice(0, -2) + (token.at(-2) === "A" ? "B" : "A") + token.at(-1);
    expect((await fetch(`${origin}/attachments/${a.id}`)).status).toBe(401);
    expect((await download(withToken(a.url, flipped))).status).toBe(401);
    expect((await download(withToken(a.url, alice.accessToken))).status).toBe(401);
    expect((await download(withToken(a.url, await forgeToken(a.id, alice.id, Math.floor(Date.now() / 1000) - 60)))).status).toBe(401);
    // a's token on b's path
    expect((await download(withToken(b.url, token))).status).toBe(401);
    // sanity: the untouched URL works
    expect((await download(a.url)).status).toBe(200);
  });

  it("re-checks membership: a removed member's URL stops working (404)", async () => {
    const room = (await ok(alice, CREATE, { input: { name: "Temporary", type: GROUP, memberIds: [bob.id] } })).createRoom.id;
    const a = await upload(alice, await image("png", 50, 50), "p.png");
    await sendOk(alice, { attachmentIds: [a.id] }, room);
    const bobsView = (await ok(bob, HISTORY, { r: room })).messages.edges[0].node.attachments[0];
    expect((await download(bobsView.url)).status).toBe(200);
    expect((await download(bobsView.thumbnailUrl)).status).toBe(200);

    expect((await ok(alice, REMOVE, { r: room, u: bob.id })).removeRoomMember).toBe(true);
    expect((await download(bobsView.url)).status).toBe(404);
    expect((await download(bobsView.thumbnailUrl)).status).toBe(404);
    // alice's own URL still works
    const alicesView = (await ok(alice, HISTORY, { r: room })).messages.edges[0].node.attachments[0];
    expect((await download(alicesView.url)).status).toBe(200);
  });

  it("serves an unsent upload to its uploader only", async () => {
    const png = await image("png", 64, 48);
    const a = await upload(alice, png, "draft.png");
    const got = await download(a.url);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(png)).toBe(true);
    expect((await download(a.thumbnailUrl)).status).toBe(200);
    // a validly signed token naming bob does not make it his
    expect((await download(withToken(a.url, await forgeToken(a.id, bob.id)))).status).toBe(404);
  });

  it("gives an outsider no way in: the room is NOT_FOUND to them, and a token naming them gets 404", async () => {
    const png = await image("png", 30, 20);
    const a = await upload(alice, png, "private.png");
    const message = await sendOk(alice, { attachmentIds: [a.id] });
    expect(errorCode(await run(mallory, HISTORY, { r: roomId }))).toBe("NOT_FOUND");
    const forged = withToken(message.attachments[0].url, await forgeToken(a.id, mallory.id));
    expect((await download(forged)).status).toBe(404);
    const forgedThumb = withToken(message.attachments[0].thumbnailUrl, await forgeToken(a.id, mallory.id));
    expect((await download(forgedThumb)).status).toBe(404);
    // and mallory cannot attach it to a message of her own
    const own = (await ok(mallory, CREATE, { input: { name: "Mine", type: GROUP } })).createRoom.id;
    expect(ext(await send(mallory, { attachmentIds: [a.id] }, own))).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.attachmentIds",
    });
  });

  it("404s for an attachment that does not exist, and a text file's thumbnail", async () => {
    const ghost = "00000000-0000-4000-8000-000000000000";
    expect((await download(`/attachments/${ghost}?token=${await forgeToken(ghost, alice.id)}`)).status).toBe(404);
    const a = await upload(alice, TEXT, "no-thumb.txt");
    expect((await download(`/attachments/${a.id}/thumbnail?token=${await forgeToken(a.id, alice.id)}`)).status).toBe(404);
  });
});

describe("privacy of images and purged messages", () => {
  it("measures a phone photo as shown (EXIF orientation) and stores it upright without its EXIF data", async () => {
    const tagged = await sharp({ create: { width: 400, height: 300, channels: 3, background: "#3a6" } })
      .jpeg()
      .withExif({ IFD0: { Make: "PhoneCo", Model: "Camera 9" } })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(tagged).metadata()).exif).toBeDefined();
    const a = await upload(alice, tagged, "portrait.jpg", "image/jpeg");
    expect(a).toMatchObject({ mimeType: "image/jpeg", width: 300, height: 400 });
    const stored = await download(a.url);
    const meta = await sharp(stored.bytes).metadata();
    expect({ width: meta.width, height: meta.height, exif: meta.exif, orientation: meta.orientation }).toEqual({
      width: 300,
      height: 400,
      exif: undefined,
      orientation: undefined,
    });
    expect(a.size).toBe(stored.bytes.length);
  });

  it("refuses a file variable that is not a multipart file part with BAD_USER_INPUT on file", async () => {
    const result = await run(alice, UPLOAD, { file: "data:image/png;base64,AAAA" });
    expect(ext(result)).toMatchObject({ code: "BAD_USER_INPUT", field: "file" });
  });

  it("deleting a message deletes its attachments: gone from the tombstone, URLs 404, rows removed", async () => {
    const a = await upload(alice, await image("png"), "gone.png", "image/png");
    const message = await sendOk(alice, { attachmentIds: [a.id] });
    const { url, thumbnailUrl } = message.attachments[0];
    expect((await download(url)).status).toBe(200);
    const tombstone = (await ok(alice, `mutation($id: ID!) { deleteMessage(id: $id) { attachments { id } } }`, { id: message.id }))
      .deleteMessage;
    expect(tombstone.attachments).toEqual([]);
    expect((await download(url)).status).toBe(404);
    expect((await download(thumbnailUrl)).status).toBe(404);
    expect(await server.app.db.attachment.findUnique({ where: { id: a.id } })).toBeNull();
  });

  it("a self-destructing photo's attachment is deleted at expiry", async () => {
    const a = await upload(alice, await image("jpeg"), "brief.jpg", "image/jpeg");
    const message = await sendOk(alice, { attachmentIds: [a.id], expiresIn: 5 });
    const { url } = message.attachments[0];
    expect((await download(url)).status).toBe(200);
    const deadline = Date.now() + 15_000;
    while ((await download(url)).status !== 404) {
      if (Date.now() > deadline) throw new Error("the expired photo is still served");
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await server.app.db.attachment.findUnique({ where: { id: a.id } })).toBeNull();
  });
});

describe("downloads for media players", () => {
  it("answers HEAD and a single byte Range (206), and 416 for a range past the end", async () => {
    const wavBytes = wav();
    const a = await upload(alice, wavBytes, "note.wav", "audio/wav");
    const url = origin + a.url;

    const head = await fetch(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(wavBytes.length));
    expect(head.headers.get("accept-ranges")).toBe("bytes");
    expect(head.headers.get("content-disposition")).toMatch(/^inline;/);
    expect((await head.arrayBuffer()).byteLength).toBe(0);

    const part = await fetch(url, { headers: { range: "bytes=4-13" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 4-13/${wavBytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(wavBytes.subarray(4, 14))).toBe(true);

    const past = await fetch(url, { headers: { range: `bytes=${wavBytes.length + 10}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${wavBytes.length}`);
  });
});

describe("retries", () => {
  it("a retried send with attachments (same clientMessageId) returns the first message", async () => {
    const a = await upload(alice, await image("png"), "retry.png", "image/png");
    const input = { attachmentIds: [a.id], clientMessageId: `retry-${a.id}` };
    const first = await sendOk(alice, input);
    const again = await sendOk(alice, input);
    expect(again.id).toBe(first.id);
    expect(again.attachments.map((x: { id: string }) => x.id)).toEqual([a.id]);
  });
});
