/**
 * uploadAttachmentFromUrl over HTTP: a file fetched by the server from a local
 * https server with a self-signed certificate (trusted through URL_FETCH_CA_FILE,
 * on 127.0.0.2, let through by URL_FETCH_ALLOWED_RANGES), stored and sent as an
 * upload is; and the SSRF refusals: loopback, private, link-local (metadata),
 * CGNAT, multicast, unspecified, IPv6 unique-local and IPv4-mapped addresses, IP
 * literals in other spellings, a host name resolving to loopback, redirects to
 * loopback or to http, redirect loops, non-https URLs; and the bounds: size
 * (declared and streamed), declared and sniffed type, status and time. A second
 * listener of the same server on 127.0.0.1 counts what reaches it: nothing.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import ipaddr from "ipaddr.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchUrl, refusedAddress } from "../src/attachments/url-fetch.js";
import { EXE, media } from "./helpers/attachment-files.js";
import { ext, gql } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const CERT = new URL("./fixtures/tls/media-server.crt", import.meta.url);
const KEY = new URL("./fixtures/tls/media-server.key", import.meta.url);
const MAX_BYTES = 64 * 1024;

const {
  server,
  api: { run, ok },
  users: [alice, bob],
} = useTestServer(["alice", "bob"], {
  env: {
    RATE_LIMIT_UPLOAD: "1000/60",
    MAX_ATTACHMENT_BYTES: String(MAX_BYTES),
    URL_FETCH_TIMEOUT_MS: "1000",
    URL_FETCH_ALLOWED_RANGES: "127.0.0.2/32",
    URL_FETCH_CA_FILE: CERT.pathname,
  },
});
let roomId: string;
/** The media server on 127.0.0.2 (allowed) and the same handler on 127.0.0.1 (loopback: must never be reached). */
let media2: Server, media1: Server;
let base: string, loopbackPort: number;
let loopbackHits = 0;
const held: import("node:http").ServerResponse[] = [];

beforeAll(async () => {
  const tls = { cert: readFileSync(CERT), key: readFileSync(KEY) };
  const routes = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    const path = new URL(req.url ?? "/", "https://x").pathname;
    if (path === "/media/clip.mp4") return res.writeHead(200, { "content-type": "video/mp4" }).end(media("clip.mp4"));
    if (path === "/media/voice") return res.writeHead(200).end(media("voice.ogg")); // no Content-Type: the bytes decide
    if (path === "/page.html")
      return res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<html><script>alert(1)</script></html>");
    if (path === "/program") return res.writeHead(200, { "content-type": "application/octet-stream" }).end(EXE);
    if (path === "/declared-big") return res.writeHead(200, { "content-type": "video/mp4", "content-length": MAX_BYTES + 1 }).end();
    if (path === "/streamed-big") {
      res.writeHead(200, { "content-type": "video/mp4" }); // chunked: no length declared
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(8 * 1024));
      return res.end();
    }
    if (path === "/missing") return res.writeHead(404).end();
    if (path === "/slow") return void held.push(res); // never answers
    if (path === "/to-clip") return res.writeHead(302, { location: "/media/clip.mp4" }).end();
    if (path === "/to-loopback") return res.writeHead(302, { location: `https://127.0.0.1:${loopbackPort}/media/clip.mp4` }).end();
    if (path === "/to-localhost") return res.writeHead(301, { location: `https://localhost:${loopbackPort}/media/clip.mp4` }).end();
    if (path === "/to-http")
      return res.writeHead(307, { location: `http://127.0.0.2:${(media2.address() as AddressInfo).port}/media/clip.mp4` }).end();
    if (path === "/loop") return res.writeHead(302, { location: "/loop" }).end();
    res.writeHead(404).end();
  };
  media2 = createServer(tls, routes);
  media1 = createServer(tls, (req, res) => {
    loopbackHits++;
    routes(req, res);
  });
  await Promise.all([
    new Promise<void>((r) => media2.listen(0, "127.0.0.2", r)),
    new Promise<void>((r) => media1.listen(0, "127.0.0.1", r)),
  ]);
  base = `https://127.0.0.2:${(media2.address() as AddressInfo).port}`;
  loopbackPort = (media1.address() as AddressInfo).port;

  roomId = (
    await ok(alice, `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`, {
      input: { name: "Twilio", type: "GROUP", memberIds: [bob.id] },
    })
  ).createRoom.id;
});
afterAll(async () => {
  for (const res of held) res.destroy();
  media1?.closeAllConnections();
  media2?.closeAllConnections();
  await Promise.all([new Promise((r) => media1?.close(r)), new Promise((r) => media2?.close(r))]);
});

const FETCH = `mutation($url: String!) { uploadAttachmentFromUrl(url: $url) { id filename mimeType size width height durationSeconds url } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id type attachments { id } } }`;
const uploads = () => server.app.db.attachment.count({ where: { uploaderId: alice.id } });

/** Asks for `url` as alice and expects BAD_USER_INPUT on `url` with a message matching `message`, and no new attachment. */
async function refused(url: string, message: RegExp): Promise<void> {
  const before = await uploads();
  const result = await run(alice, FETCH, { url });
  expect(result.data?.uploadAttachmentFromUrl ?? null, url).toBeNull();
  expect(ext(result), url).toMatchObject({ code: "BAD_USER_INPUT", field: "url" });
  expect(result.errors![0]!.message, url).toMatch(message);
  expect(await uploads()).toBe(before);
}

describe("uploadAttachmentFromUrl", () => {
  it("fetches an https file, sniffs and describes it as an upload, and sends it", async () => {
    const a = (await ok(alice, FETCH, { url: `${base}/media/clip.mp4` })).uploadAttachmentFromUrl;
    const bytes = media("clip.mp4");
    expect(a).toMatchObject({ filename: "clip.mp4", mimeType: "video/mp4", size: bytes.length, width: 64, height: 48 });
    expect(a.durationSeconds).toBeCloseTo(1.02, 1);
    const download = await fetch(server.url.replace(/\/graphql$/, "") + a.url);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
    const sent = (
      await ok(alice, SEND, {
        input: {
          roomId,
          type: "VOICE",
          attachmentIds: [(await ok(alice, FETCH, { url: `${base}/media/voice` })).uploadAttachmentFromUrl.id],
        },
      })
    ).sendMessage;
    expect(sent.type).toBe("VOICE");
    expect((await ok(alice, SEND, { input: { roomId, attachmentIds: [a.id] } })).sendMessage.type).toBe("VIDEO");
  });

  it("follows a redirect to an allowed address", async () => {
    expect((await ok(alice, FETCH, { url: `${base}/to-clip` })).uploadAttachmentFromUrl).toMatchObject({
      filename: "clip.mp4",
      mimeType: "video/mp4",
    });
  });

  it("refuses anonymous callers", async () => {
    expect(ext(await gql(server.url, FETCH, { url: `${base}/media/clip.mp4` }))?.code).toBe("UNAUTHENTICATED");
  });

  it.each([
    ["loopback", "https://127.0.0.1:PORT/media/clip.mp4", /loopback/],
    ["loopback, IPv6", "https://[::1]:PORT/media/clip.mp4", /loopback/],
    ["loopback, decimal spelling", "https://2130706433:PORT/media/clip.mp4", /loopback/],
    ["loopback, short spelling", "https://127.1:PORT/media/clip.mp4", /loopback/],
    ["loopback, IPv4-mapped IPv6", "https://[::ffff:127.0.0.1]:PORT/media/clip.mp4", /ipv4Mapped/],
    ["a name resolving to loopback", "https://localhost:PORT/media/clip.mp4", /loopback/],
    ["private 10/8", "https://10.0.0.1/a.mp4", /private/],
    ["private 192.168/16", "https://192.168.1.1/a.mp4", /private/],
    ["link-local: cloud metadata", "https://169.254.169.254/latest/meta-data/", /linkLocal/],
    ["CGNAT", "https://100.64.0.1/a.mp4", /carrierGradeNat/],
    ["multicast", "https://224.0.0.1/a.mp4", /multicast/],
    ["unspecified", "https://0.0.0.0:PORT/media/clip.mp4", /unspecified/],
    ["IPv6 unique-local", "https://[fd00::1]/a.mp4", /uniqueLocal/],
    ["IPv6 link-local", "https://[fe80::1]/a.mp4", /linkLocal/],
    ["NAT64 of loopback", "https://[64:ff9b::7f00:1]/a.mp4", /rfc6052/],
  ])("refuses %s", async (_name, url, message) => {
    await refused(url.replace("PORT", String(loopbackPort)), message);
  });

  it.each([
    ["http", () => `http://127.0.0.2:${(media2.address() as AddressInfo).port}/media/clip.mp4`, /Only https/],
    ["another scheme", () => "ftp://example.com/a.mp4", /Only https/],
    ["credentials in the URL", () => `${base.replace("https://", "https://user:pw@")}/media/clip.mp4`, /credentials/],
    ["not a URL", () => "clip.mp4", /not a URL/],
    ["a URL over 2048 characters", () => `${base}/${"a".repeat(2048)}`, /longer than 2048/],
    ["a host that does not resolve", () => "https://no-such-host.invalid/a.mp4", /does not resolve/],
  ])("refuses %s", async (_name, url, message) => {
    await refused(url(), message);
  });

  it.each([
    ["a redirect to loopback", "/to-loopback", /loopback/],
    ["a redirect to a name resolving to loopback", "/to-localhost", /loopback/],
    ["a redirect to http", "/to-http", /Only https/],
    ["a redirect loop", "/loop", /redirected more than 3 times/],
  ])("refuses %s", async (_name, path, message) => {
    await refused(base + path, message);
  });

  it.each([
    ["a declared type not accepted (HTML)", "/page.html", /type \(text\/html\)/],
    ["bytes of a type not accepted", "/program", /type \(application\/x-msdownload\)/],
    ["a declared length over MAX_ATTACHMENT_BYTES", "/declared-big", /larger than 65536 bytes/],
    ["a streamed body over MAX_ATTACHMENT_BYTES", "/streamed-big", /larger than 65536 bytes/],
    ["an error status", "/missing", /HTTP 404/],
  ])("refuses %s", async (_name, path, message) => {
    await refused(base + path, message);
  });

  it("gives up on a server that does not answer within URL_FETCH_TIMEOUT_MS", async () => {
    const started = Date.now();
    await refused(`${base}/slow`, /did not answer within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("never connected to the loopback listener", () => {
    expect(loopbackHits).toBe(0);
  });
});

describe("fetchUrl", () => {
  it("connects a host name to the address it resolved and checked, with TLS verified for the name", async () => {
    // localhost resolves to 127.0.0.1 (and maybe ::1, where nothing listens); allowed for this call only, it reaches the loopback listener
    const hits = loopbackHits;
    const loopback = ["127.0.0.0/8", "::1/128"].map((r) => ipaddr.parseCIDR(r));
    const options = { maxBytes: MAX_BYTES, timeoutMs: 2000, allowedRanges: loopback, extraCa: [readFileSync(CERT, "utf8")] };
    const fetched = await fetchUrl(`https://localhost:${loopbackPort}/media/clip.mp4`, options);
    expect(fetched.filename).toBe("clip.mp4");
    expect(fetched.bytes.equals(media("clip.mp4"))).toBe(true);
    expect(loopbackHits).toBe(hits + 1);
    // without the extra CA the self-signed certificate is refused
    await expect(fetchUrl(`https://localhost:${loopbackPort}/media/clip.mp4`, { ...options, extraCa: [] })).rejects.toMatchObject({
      extensions: { code: "BAD_USER_INPUT", field: "url" },
    });
  });
});

describe("refusedAddress", () => {
  it("allows public unicast only, and the configured exceptions", () => {
    const table: [string, string | null][] = [
      ["93.184.215.14", null],
      ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", null],
      ["127.0.0.1", "loopback"],
      ["172.16.5.4", "private"],
      ["169.254.169.254", "linkLocal"],
      ["100.127.255.254", "carrierGradeNat"],
      ["255.255.255.255", "broadcast"],
      ["::", "unspecified"],
      ["::ffff:10.0.0.1", "ipv4Mapped"],
      ["ff02::1", "multicast"],
      ["2002:7f00:1::", "6to4"],
    ];
    for (const [address, range] of table) expect(refusedAddress(address, []), address).toBe(range);
    expect(refusedAddress("10.1.2.3", [ipaddr.parseCIDR("10.1.2.0/24")])).toBeNull();
    expect(refusedAddress("10.1.3.3", [ipaddr.parseCIDR("10.1.2.0/24")])).toBe("private");
  });
});
