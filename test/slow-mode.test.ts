/**
 * Slow mode (chat/room-rules.ts, issue 16): setSlowMode by a room's OWNER or an
 * ADMIN (a MEMBER is refused, bounds checked); then a MEMBER may send once every N
 * seconds, the next send answering RATE_LIMITED with `retryAfter` (seconds) and
 * writing nothing, publishing nothing; OWNERs and ADMINs are exempt; edits neither
 * count nor are held back; a retry of a stored clientMessageId still returns it;
 * concurrent sends let exactly one through. Over HTTP and graphql-ws. The time a
 * member waits is simulated by moving their `lastSentAt` back (no sleeps).
 * The per-user rate limits are off, so every RATE_LIMITED here is slow mode's.
 */
import { describe, expect, it } from "vitest";
import { ext, type GqlResponse, subscribe, type TestUser, untilReceived } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const {
  server,
  api: { run, ok },
  users: [owner, admin, member, other],
  client,
} = useTestServer(["owner", "admin", "member", "other"], { env: { RATE_LIMITS: "off" } });

const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const SET_ROLE = `mutation($r: ID!, $u: ID!) { updateMemberRole(roomId: $r, userId: $u, role: ADMIN) { role } }`;
const SLOW = `mutation($r: ID!, $s: Int!) { setSlowMode(roomId: $r, seconds: $s) { id slowModeSeconds } }`;
const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id content } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id content } }`;
const HISTORY = `query($r: ID!) { messages(roomId: $r, first: 50) { edges { node { content } } } }`;

/** A GROUP room of `owner` with `admin` as ADMIN and `member`, `other` as MEMBERs, in slow mode of `seconds` (0: off). */
async function slowRoom(seconds: number): Promise<string> {
  const r = (await ok(owner, CREATE, { input: { name: "Slow", type: "GROUP", memberIds: [admin.id, member.id, other.id] } })).createRoom
    .id as string;
  await ok(owner, SET_ROLE, { r, u: admin.id });
  if (seconds > 0) expect((await ok(owner, SLOW, { r, s: seconds })).setSlowMode.slowModeSeconds).toBe(seconds);
  return r;
}

const send = (user: TestUser, roomId: string, content: string, clientMessageId?: string) =>
  run(user, SEND, { i: { roomId, content, clientMessageId } });

/** Moves `user`'s last send in the room `seconds` into the past, as if they had waited. */
async function wait(user: TestUser, roomId: string, seconds: number): Promise<void> {
  await server.app.db
    .$executeRaw`UPDATE "RoomMember" SET "lastSentAt" = "lastSentAt" - make_interval(secs => ${seconds}) WHERE "roomId" = ${roomId}::uuid AND "userId" = ${user.id}::uuid`;
}

/** Asserts slow mode's refusal: RATE_LIMITED, no data, and returns `retryAfter`. */
function expectSlowed(result: GqlResponse): number {
  expect(result.data?.sendMessage ?? null).toBeNull();
  expect(ext(result)).toEqual({ code: "RATE_LIMITED", retryAfter: expect.any(Number) });
  expect(result.errors![0]!.message).toMatch(/^Slow mode/);
  return ext(result)!.retryAfter as number;
}

/** The room's message contents, oldest first. */
const contents = async (roomId: string) =>
  (await ok(owner, HISTORY, { r: roomId })).messages.edges.map((e: { node: { content: string } }) => e.node.content).reverse();

describe("setSlowMode", () => {
  it("is the OWNER's and ADMINs': a MEMBER is FORBIDDEN, an outsider NOT_FOUND; Room.slowModeSeconds shows it to members", async () => {
    const r = await slowRoom(0);
    expect((await ok(member, `query($r: ID!) { room(id: $r) { slowModeSeconds } }`, { r })).room.slowModeSeconds).toBe(0);
    expect((await ok(admin, SLOW, { r, s: 10 })).setSlowMode.slowModeSeconds).toBe(10);
    expect(ext(await run(member, SLOW, { r, s: 0 }))?.code).toBe("FORBIDDEN");
    const outsider = (await ok(other, `mutation { createRoom(input: { name: "x", type: GROUP }) { id } }`)).createRoom.id;
    expect(ext(await run(owner, SLOW, { r: outsider, s: 5 }))?.code).toBe("NOT_FOUND");
    expect((await ok(member, `query($r: ID!) { room(id: $r) { slowModeSeconds } }`, { r })).room.slowModeSeconds).toBe(10);
  });

  it("tells the room's subscribers with RoomUpdated over graphql-ws", async () => {
    const r = await slowRoom(0);
    const events = subscribe(
      client(member),
      `subscription($r: ID!) { roomEvents(roomId: $r) { __typename ... on RoomUpdated { room { slowModeSeconds } updatedBy { id } } } }`,
      { r },
    );
    const updated = await untilReceived(events, () => ok(admin, SLOW, { r, s: 15 }));
    expect(updated.data?.roomEvents).toEqual({ __typename: "RoomUpdated", room: { slowModeSeconds: 15 }, updatedBy: { id: admin.id } });
  });

  it("refuses a negative value or one above 6 hours with BAD_USER_INPUT on `seconds`", async () => {
    const r = await slowRoom(0);
    expect(ext(await run(owner, SLOW, { r, s: -1 }))).toMatchObject({ code: "BAD_USER_INPUT", field: "seconds" });
    expect(ext(await run(owner, SLOW, { r, s: 6 * 3600 + 1 }))).toMatchObject({ code: "BAD_USER_INPUT", field: "seconds" });
    expect((await ok(owner, SLOW, { r, s: 6 * 3600 })).setSlowMode.slowModeSeconds).toBe(6 * 3600);
  });
});

describe("slow mode on sendMessage", () => {
  it("lets a MEMBER send once every N seconds: the next is RATE_LIMITED with retryAfter and stores nothing; after N seconds it passes", async () => {
    const r = await slowRoom(30);
    expect((await send(member, r, "first")).data?.sendMessage.content).toBe("first");
    const retryAfter = expectSlowed(await send(member, r, "too soon"));
    expect(retryAfter).toBeGreaterThanOrEqual(29);
    expect(retryAfter).toBeLessThanOrEqual(30);
    await wait(member, r, 20);
    const later = expectSlowed(await send(member, r, "still too soon"));
    expect(later).toBeGreaterThanOrEqual(9);
    expect(later).toBeLessThanOrEqual(10);
    await wait(member, r, 10);
    expect((await send(member, r, "second")).data?.sendMessage.content).toBe("second");
    expect(await contents(r)).toEqual(["first", "second"]);
  });

  it("counts per member: another MEMBER sends meanwhile; turning it off lets everyone send again", async () => {
    const r = await slowRoom(60);
    await ok(member, SEND, { i: { roomId: r, content: "member 1" } });
    await ok(other, SEND, { i: { roomId: r, content: "other 1" } });
    expectSlowed(await send(member, r, "member 2"));
    await ok(owner, SLOW, { r, s: 0 });
    await ok(member, SEND, { i: { roomId: r, content: "member 2" } });
    expect(await contents(r)).toEqual(["member 1", "other 1", "member 2"]);
  });

  it("exempts the OWNER and ADMINs", async () => {
    const r = await slowRoom(60);
    for (const user of [owner, admin, owner, admin]) expect((await send(user, r, `from ${user.username}`)).errors).toBeUndefined();
  });

  it("does not hold back or count edits", async () => {
    const r = await slowRoom(30);
    const { id } = (await ok(member, SEND, { i: { roomId: r, content: "draft" } })).sendMessage;
    expect((await ok(member, EDIT, { id, c: "edited once" })).editMessage.content).toBe("edited once");
    expect((await ok(member, EDIT, { id, c: "edited twice" })).editMessage.content).toBe("edited twice");
    await wait(member, r, 30);
    // the edits did not restart the clock
    expect((await send(member, r, "next")).errors).toBeUndefined();
  });

  it("returns the stored message to a retry of its clientMessageId, even while a new send would be held back", async () => {
    const r = await slowRoom(30);
    const first = (await ok(member, SEND, { i: { roomId: r, content: "once", clientMessageId: "cm-1" } })).sendMessage;
    expect((await send(member, r, "once", "cm-1")).data?.sendMessage).toEqual(first);
    expectSlowed(await send(member, r, "new", "cm-2"));
  });

  it("lets exactly one of a MEMBER's concurrent sends through (the room lock orders them)", async () => {
    const r = await slowRoom(30);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => send(member, r, `burst ${i}`)));
    expect(results.filter((x) => !x.errors)).toHaveLength(1);
    for (const refused of results.filter((x) => x.errors)) expectSlowed(refused);
    expect(await contents(r)).toHaveLength(1);
  });

  it("over graphql-ws: the refusal carries retryAfter, and subscribers get only the messages that were stored", async () => {
    const r = await slowRoom(30);
    const watcher = subscribe(client(owner), `subscription($r: ID!) { messageAdded(roomId: $r) { content sender { id } } }`, { r });
    const ws = client(member);
    const sendWs = async (content: string) => subscribe(ws, SEND, { i: { roomId: r, content } }).next();
    // the subscription is live once an owner's message reaches it (owners are exempt)
    await untilReceived(watcher, () => ok(owner, SEND, { i: { roomId: r, content: "ping" } }));
    expect((await sendWs("over ws")).data?.sendMessage.content).toBe("over ws");
    expectSlowed(await sendWs("held back"));
    await ok(owner, SEND, { i: { roomId: r, content: "after" } });
    const notPing = (e: GqlResponse) => e.data?.messageAdded.content !== "ping";
    expect((await watcher.nextWhere(notPing)).data?.messageAdded.content).toBe("over ws");
    expect((await watcher.nextWhere(notPing)).data?.messageAdded.content).toBe("after");
  });

  it("keeps a plain send one statement on the write pool with slow mode on, refused or stored", async () => {
    const r = await slowRoom(30);
    await ok(member, SEND, { i: { roomId: r, content: "warm-up" } }); // the token is checked and cached
    await wait(member, r, 30);
    let statements: string[] | null = [];
    server.app.writes.onQuery((sql) => statements?.push(sql));
    await ok(member, SEND, { i: { roomId: r, content: "stored" } });
    expectSlowed(await send(member, r, "refused"));
    const counted = statements;
    statements = null;
    expect(counted).toHaveLength(2);
    expect(counted.every((sql) => sql.includes("chat_send_message"))).toBe(true);
  });
});
