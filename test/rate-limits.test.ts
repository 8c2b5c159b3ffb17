/**
 * Rate limits (src/limits/rate-limits.ts) with low limits set through the
 * environment: the call after the N-th is refused with RATE_LIMITED and
 * `retryAfter`, writes nothing and logs no error, and passes once the window has
 * run out; per-user limits leave other users alone, per-IP limits count every user
 * of the address (X-Forwarded-For only with TRUST_PROXY, the n-th address from
 * the right with TRUST_PROXY=n), the per-account login
 * limit counts every address, deleteAccount's password check counts per user;
 * over HTTP, multipart and graphql-ws; one count for two node processes on one Redis; RATE_LIMITS=off turns them off.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ext, type GqlResponse, gql, gqlOk, postFile, registerUser, subscribe, type TestUser } from "./helpers/client.js";
import type { NodeProcess } from "./helpers/node-process.js";
import { useNodes } from "./helpers/nodes.js";
import { logCapture, useTestServer } from "./helpers/server.js";

const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
const TYPING = `mutation($r: ID!) { setTyping(roomId: $r, isTyping: true) }`;
const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`;
const REGISTER = `mutation($i: RegisterInput!) { register(input: $i) { accessToken } }`;
const UPLOAD = `mutation($file: File!) { uploadAttachment(file: $file) { id } }`;
const PASSWORD = "correct horse battery";

/** POSTs an operation as from `ip` (an X-Forwarded-For header), with a token when given. */
async function gqlFrom(url: string, ip: string, query: string, variables: Record<string, unknown>, token?: string): Promise<GqlResponse> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": ip, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GqlResponse;
}

/** Asserts a RATE_LIMITED refusal with no data, and returns its retryAfter (whole seconds, ≥ 1, ≤ `windowS`). */
function expectRefused(result: GqlResponse, windowS: number): number {
  expect(result.data ?? null).toBeNull();
  expect(result.errors).toHaveLength(1);
  expect(ext(result)).toEqual({ code: "RATE_LIMITED", retryAfter: expect.any(Number) });
  const retryAfter = ext(result)!.retryAfter as number;
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowS).toBe(true);
  return retryAfter;
}

const registerInput = (name: string) => ({
  username: name,
  email: `${name}@example.com`,
  password: PASSWORD,
  firstName: "R",
  lastName: "L",
});

describe("rate limits on one node", () => {
  const { sink, lines } = logCapture();
  const {
    server,
    api,
    users: [alice, bob],
    client,
  } = useTestServer(["alice", "bob"], {
    logTo: sink,
    env: {
      TRUST_PROXY: "1",
      RATE_LIMIT_SEND_MESSAGE: "3/2",
      RATE_LIMIT_SET_TYPING: "2/60",
      RATE_LIMIT_UPLOAD: "1/60",
      RATE_LIMIT_LOGIN_IP: "4/60",
      RATE_LIMIT_LOGIN_ACCOUNT: "2/60",
      RATE_LIMIT_REGISTER_IP: "2/60",
    },
  });
  let roomId: string;
  beforeAll(async () => {
    roomId = (
      await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Limits", type: GROUP, memberIds: $m }) { id } }`, {
        m: [bob.id],
      })
    ).createRoom.id;
  });
  const messages = () => server.app.db.message.count({ where: { roomId } });

  it("sendMessage: the 4th call of 3 per 2 s is refused, nothing is written, and the window resets after retryAfter", async () => {
    const before = await messages();
    for (let i = 0; i < 3; i++) await api.ok(alice, SEND, { r: roomId, c: `ok ${i}` });
    const retryAfter = expectRefused(await api.run(alice, SEND, { r: roomId, c: "refused" }), 2);
    expect(await messages()).toBe(before + 3);
    // another user's count is their own
    await api.ok(bob, SEND, { r: roomId, c: "bob is not limited" });
    // waiting the documented retryAfter is enough
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    await api.ok(alice, SEND, { r: roomId, c: "after the window" });
    expect(await messages()).toBe(before + 5);
  });

  it("counts each aliased root field as a call, and refuses the whole operation (nothing written)", async () => {
    const before = await messages();
    const result = await api.run(
      bob,
      `mutation($r: ID!) { ${[1, 2, 3, 4].map((i) => `m${i}: sendMessage(input: { roomId: $r, content: "alias ${i}" }) { id }`).join(" ")} }`,
      { r: roomId },
    );
    expectRefused(result, 2);
    expect(await messages()).toBe(before);
  });

  it("setTyping over graphql-ws: the 3rd call of 2 per minute is refused", async () => {
    const ws = client(alice);
    const call = async () => (await subscribe(ws, TYPING, { r: roomId }).next()) as GqlResponse;
    expect((await call()).data).toEqual({ setTyping: true });
    expect((await call()).data).toEqual({ setTyping: true });
    expectRefused(await call(), 60);
    // over HTTP too: the count is the user's, whatever the transport
    expectRefused(await api.run(alice, TYPING, { r: roomId }), 60);
    expect((await api.run(bob, TYPING, { r: roomId })).data).toEqual({ setTyping: true });
  });

  it("uploadAttachment (multipart): the 2nd upload of 1 per minute is refused, from a URL too, and nothing is stored", async () => {
    const file = { bytes: Buffer.from("hello"), filename: "a.txt", type: "text/plain" };
    const first = await postFile(server.url, UPLOAD, file, bob.accessToken);
    expect(first.body.errors).toBeUndefined();
    const second = await postFile(server.url, UPLOAD, file, bob.accessToken);
    expectRefused(second.body, 60);
    // uploadAttachmentFromUrl spends the same budget, refused before any fetch
    expectRefused(await api.run(bob, `mutation { uploadAttachmentFromUrl(url: "https://example.com/a.jpg") { id } }`), 60);
    expect(await server.app.db.attachment.count({ where: { uploaderId: bob.id } })).toBe(1);
  });

  it("login per IP counts every account of the address; per account (case-folded), every address", async () => {
    const login = (ip: string, input: Record<string, string>) => gqlFrom(server.url, ip, LOGIN, { i: { ...input, password: PASSWORD } });
    // 10.0.0.1: alice and bob twice each (each account within its 2), then carol is refused by the address' 4
    for (const user of [alice, bob, alice, bob]) expect((await login("10.0.0.1", { username: user.username })).errors).toBeUndefined();
    expectRefused(await login("10.0.0.1", { username: "carol" }), 60);
    // one account from three addresses: its 2 pass, whatever the case of the email
    const dave = `dave_${process.pid}`;
    expect((await gqlFrom(server.url, "10.0.0.9", REGISTER, { i: registerInput(dave) })).errors).toBeUndefined();
    expect((await login("10.0.0.2", { email: `${dave}@example.com`.toUpperCase() })).errors).toBeUndefined();
    expect((await login("10.0.0.3", { email: `${dave}@example.com` })).errors).toBeUndefined();
    expectRefused(await login("10.0.0.4", { email: ` ${dave}@Example.com` }), 60);
  });

  it("register per IP: the 3rd of 2 per minute from one address is refused, another address is not", async () => {
    const name = (i: number) => `rl_${process.pid}_${Date.now() % 1e6}_${i}`;
    for (const i of [1, 2]) expect((await gqlFrom(server.url, "10.1.0.1", REGISTER, { i: registerInput(name(i)) })).errors).toBeUndefined();
    expectRefused(await gqlFrom(server.url, "10.1.0.1", REGISTER, { i: registerInput(name(3)) }), 60);
    expect(await server.app.db.user.count({ where: { username: name(3) } })).toBe(0);
    expect((await gqlFrom(server.url, "10.1.0.2", REGISTER, { i: registerInput(name(4)) })).errors).toBeUndefined();
  });

  it("deleteAccount per user (its password check, as login per account): the 3rd guess of 2 per minute is refused, even with the right password", async () => {
    const name = `guessed_${process.pid}`;
    const registered = await gqlFrom(
      server.url,
      "10.3.0.1",
      `mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }`,
      { i: registerInput(name) },
    );
    const { accessToken, user } = registered.data!.register;
    // from a new address each time: the count is the user's, not the address'
    const guess = (password: string, ip: string) =>
      gqlFrom(server.url, ip, `mutation($p: String!) { deleteAccount(password: $p) }`, { p: password }, accessToken);
    for (const [i, wrong] of ["guess number 1", "guess number 2"].entries())
      expect(ext(await guess(wrong, `10.3.1.${i}`))).toMatchObject({ code: "BAD_USER_INPUT", field: "password" });
    expectRefused(await guess(PASSWORD, "10.3.1.9"), 60);
    expect((await server.app.db.user.findUniqueOrThrow({ where: { id: user.id } })).deletedAt).toBeNull();
  });

  it("logs no refusal as an error", () => {
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});

describe("RATE_LIMITS=off", () => {
  const { server, api } = useTestServer([], { env: { RATE_LIMITS: "off", RATE_LIMIT_SEND_MESSAGE: "1/60" } });

  it("lets every call through", async () => {
    const alice = await registerUser(server.url, "alice");
    const roomId = (await api.ok(alice, `mutation { createRoom(input: { name: "Free", type: GROUP }) { id } }`, {})).createRoom.id;
    for (let i = 0; i < 3; i++) await api.ok(alice, SEND, { r: roomId, c: `free ${i}` });
  });
});

describe("TRUST_PROXY=2 (two proxies append to X-Forwarded-For)", () => {
  const { server } = useTestServer([], { env: { TRUST_PROXY: "2", RATE_LIMIT_LOGIN_IP: "2/60" } });
  const login = (forwardedFor: string) => gqlFrom(server.url, forwardedFor, LOGIN, { i: { username: "nobody", password: PASSWORD } });

  it("counts the second address from the right: what the client put left of it does not change the count", async () => {
    // the client's own (spoofed) entries, then the address the outer proxy saw, then the inner proxy's
    expect(ext(await login("1.1.1.1, 10.5.0.1, 10.9.9.9"))?.code).toBe("UNAUTHENTICATED");
    expect(ext(await login("2.2.2.2, 3.3.3.3, 10.5.0.1, 10.9.9.9"))?.code).toBe("UNAUTHENTICATED");
    expectRefused(await login("4.4.4.4, 10.5.0.1, 10.9.9.9"), 60);
    // another client behind the same proxies has a count of its own
    expect(ext(await login("10.5.0.2, 10.9.9.9"))?.code).toBe("UNAUTHENTICATED");
  });

  it("takes the leftmost address of a shorter header (a request through one proxy only)", async () => {
    expect(ext(await login("10.6.0.1"))?.code).toBe("UNAUTHENTICATED");
    expect(ext(await login("10.6.0.1"))?.code).toBe("UNAUTHENTICATED");
    expectRefused(await login("10.6.0.1"), 60);
    expect(ext(await login("10.6.0.2"))?.code).toBe("UNAUTHENTICATED");
  });
});

describe("two nodes on one Redis", () => {
  const group = useNodes(2, { RATE_LIMIT_SEND_MESSAGE: "5/60", RATE_LIMIT_LOGIN_IP: "3/60" });
  let alice: TestUser;
  let roomId: string;
  beforeAll(async () => {
    alice = await registerUser(group.nodes[0].url, "alice");
    roomId = (
      await gqlOk(group.nodes[1].url, `mutation { createRoom(input: { name: "Shared", type: GROUP }) { id } }`, {}, alice.accessToken)
    ).createRoom.id;
  });

  it("share one count: sends alternating between the nodes, exactly the limit (5) pass", async () => {
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await gql(group.nodes[i % 2]!.url, SEND, { r: roomId, c: `n${i}` }, alice.accessToken));
    expect(results.map((r) => (r.errors ? ext(r)!.code : "ok"))).toEqual([
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
      "RATE_LIMITED",
      "RATE_LIMITED",
      "RATE_LIMITED",
    ]);
    const stored = await gqlOk(
      group.nodes[0].url,
      `query($r: ID!) { messages(roomId: $r, first: 20) { edges { node { content } } } }`,
      { r: roomId },
      alice.accessToken,
    );
    expect(stored.messages.edges).toHaveLength(5);
  });

  it("ignore X-Forwarded-For without TRUST_PROXY: the socket's address is counted", async () => {
    const login = (node: NodeProcess, ip: string) => gqlFrom(node.url, ip, LOGIN, { i: { username: `nobody${ip}`, password: PASSWORD } });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push(ext(await login(group.nodes[i % 2]!, `10.2.0.${i}`))?.code);
    expect(codes).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]);
  });
});
