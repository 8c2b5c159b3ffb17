/**
 * Audio and video attachments: their duration (and a video's size) read at upload
 * through uploadAttachment over HTTP, carried by the message they are sent with,
 * and hostile files (truncated, garbage, lying headers) uploaded with null
 * metadata; the parse's time bound (MEDIA_PARSE_TIMEOUT_MS) on a file slow to read.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { readMediaInfo } from "../src/attachments/media.js";
import { media, wav } from "./helpers/attachment-files.js";
import { on, postFile, type UserOps } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  users: [alice, bob],
} = useTestServer(["alice", "bob"], { env: { RATE_LIMIT_UPLOAD: "1000/60" } });
let ok: UserOps["ok"];
let roomId: string;
beforeAll(async () => {
  ({ ok } = on(server.url));
  roomId = (
    await ok(alice, `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`, {
      input: { name: "Media", type: "GROUP", memberIds: [bob.id] },
    })
  ).createRoom.id;
});

const FIELDS = `id mimeType size width height durationSeconds thumbnailUrl`;
const UPLOAD = `mutation($file: File!) { uploadAttachment(file: $file) { ${FIELDS} } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id type attachments { ${FIELDS} } } }`;
const HISTORY = `query($r: ID!) { messages(roomId: $r, first: 10) { edges { node { id type attachments { ${FIELDS} } } } } }`;

/** Uploads `bytes` as alice over HTTP (GraphQL multipart request); fails on any error. */
async function upload(bytes: Uint8Array, filename: string): Promise<any> {
  const { status, body } = await postFile(server.url, UPLOAD, { bytes, filename, type: "application/octet-stream" }, alice.accessToken);
  if (body.errors?.length || status !== 200) throw new Error(`upload failed: HTTP ${status} ${JSON.stringify(body)}`);
  return body.data!.uploadAttachment;
}

/** `bytes` with the 32-bit size of its first `box` (an MP4 atom) replaced by `size`. */
function withBoxSize(bytes: Buffer, box: string, size: number): Buffer {
  const copy = Buffer.from(bytes);
  const at = copy.indexOf(box);
  expect(at).toBeGreaterThan(4);
  copy.writeUInt32BE(size, at - 4);
  return copy;
}

describe("audio and video metadata", () => {
  it.each([
    ["voice.mp3", "audio/mpeg", 1.656],
    // file-type names Opus in Ogg with its codec; refused before, as not in the allowed list
    ["voice.ogg", "audio/ogg; codecs=opus", 2],
  ] as const)("reads the duration of %s, without a picture size", async (name, mimeType, seconds) => {
    const a = await upload(media(name), name);
    expect(a).toMatchObject({ mimeType, width: null, height: null, thumbnailUrl: null });
    expect(a.durationSeconds).toBeCloseTo(seconds, 2);
  });

  it("reads the duration of a WAV from its real length, not its header's claim", async () => {
    expect((await upload(wav(), "note.wav")).durationSeconds).toBeCloseTo(0.05, 3);
    // the data chunk claims 4 GiB (≈ 74 h at 16 kB/s); 1600 bytes are there
    expect((await upload(wav(1600, 0xfffffff0), "liar.wav")).durationSeconds).toBeCloseTo(0.1, 3);
  });

  it.each([
    ["clip.mp4", "video/mp4", 1.02, 64, 48],
    ["clip.webm", "video/webm", 1, 96, 64],
  ] as const)("reads the duration and picture size of %s", async (name, mimeType, seconds, width, height) => {
    const a = await upload(media(name), name);
    expect(a).toMatchObject({ mimeType, width, height, thumbnailUrl: null });
    expect(a.durationSeconds).toBeCloseTo(seconds, 1);
  });

  it("carries them in the message: a VOICE note and a VIDEO, as sent and in the history bob reads", async () => {
    const voice = await upload(media("voice.ogg"), "voice.ogg");
    const sent = (await ok(alice, SEND, { input: { roomId, type: "VOICE", attachmentIds: [voice.id] } })).sendMessage;
    expect(sent).toMatchObject({ type: "VOICE", attachments: [{ id: voice.id, durationSeconds: 2 }] });

    const video = await upload(media("clip.mp4"), "clip.mp4");
    const { id } = (await ok(alice, SEND, { input: { roomId, attachmentIds: [video.id] } })).sendMessage;
    const node = (await ok(bob, HISTORY, { r: roomId })).messages.edges.find((e: any) => e.node.id === id)?.node;
    expect(node).toMatchObject({
      type: "VIDEO",
      attachments: [{ id: video.id, width: 64, height: 48, durationSeconds: video.durationSeconds }],
    });
  });

  it("uploads truncated, garbage and lying files with null metadata, and stays up", async () => {
    const mp4 = media("clip.mp4");
    const hostile: [string, Buffer, string][] = [
      ["cut.mp4", mp4.subarray(0, 200), "video/mp4"],
      ["cut.webm", media("clip.webm").subarray(0, 100), "video/webm"],
      ["noise.mp4", Buffer.concat([mp4.subarray(0, 32), randomBytes(64 * 1024)]), "video/mp4"],
      // the movie box claims 4 GiB: a parser that believed it would allocate or skip that much
      ["huge-box.mp4", withBoxSize(mp4, "moov", 0xfffffff0), "video/mp4"],
      ["cut.ogg", media("voice.ogg").subarray(0, 60), "audio/ogg; codecs=opus"],
    ];
    for (const [name, bytes, mimeType] of hostile) {
      const a = await upload(bytes, name);
      expect(a, name).toMatchObject({ mimeType, size: bytes.length, durationSeconds: null, width: null, height: null });
    }
    expect((await upload(media("voice.mp3"), "after.mp3")).durationSeconds).toBeCloseTo(1.656, 2);
  });
});

describe("readMediaInfo's time bound", () => {
  // clip.mp4 with a 24 MiB `free` box before its movie box: the parser must stream past it (≈ 10 ms here)
  const mp4 = media("clip.mp4");
  const free = Buffer.alloc(24 * 1024 * 1024);
  free.writeUInt32BE(free.length, 0);
  free.write("free", 4);
  const slow = Buffer.concat([mp4.subarray(0, mp4.readUInt32BE(0)), free, mp4.subarray(mp4.readUInt32BE(0))]);

  it("gives nulls, promptly, when the parse outlasts the timeout, and the metadata when it has time", async () => {
    const started = performance.now();
    expect(await readMediaInfo(slow, "video/mp4", 1)).toEqual({ durationSeconds: null, width: null, height: null });
    expect(performance.now() - started).toBeLessThan(500);
    expect(await readMediaInfo(slow, "video/mp4", 10_000)).toMatchObject({
      width: 64,
      height: 48,
      durationSeconds: expect.closeTo(1.02, 1),
    });
  });
});
