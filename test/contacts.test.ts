/**
 * Contacts and blocking (issue 3): contact requests (send, accept, decline,
 * auto-accept, idempotency, refusals), the contacts connection, pending
 * requests by direction, removeContact, blockUser / blockedUsers / unblockUser,
 * and the ContactRequest events of `myEvents` over graphql-ws.
 */
import { describe, expect, it } from "vitest";
import { errorCode, gql, registerUser, registerUsers, subscribe, type TestUser, untilReceived, wsClient } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const { server, api } = useTestServer([]);

const REQUEST_FIELDS = `id status createdAt respondedAt from { id } to { id }`;
const SEND_REQUEST = `mutation($id: ID!) { sendContactRequest(userId: $id) { ${REQUEST_FIELDS} } }`;
const RESPOND = `mutation($id: ID!, $accept: Boolean!) { respondToContactRequest(id: $id, accept: $accept) { ${REQUEST_FIELDS} } }`;
const REQUESTS = `query($direction: ContactRequestDirection) { contactRequests(direction: $direction) { ${REQUEST_FIELDS} } }`;
const CONTACTS = `query($first: Int, $after: String) { contacts(first: $first, after: $after) { edges { cursor node { id username } } pageInfo { hasNextPage endCursor } } }`;
const MY_EVENTS = `subscription { myEvents { __typename ... on ContactRequest { id status from { id } } } }`;
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

const sendRequest = (from: TestUser, toId: string) => api.run(from, SEND_REQUEST, { id: toId });
const sendRequestOk = (from: TestUser, to: TestUser) => api.ok(from, SEND_REQUEST, { id: to.id }).then((d) => d.sendContactRequest);
const respond = (user: TestUser, id: string, accept: boolean) => api.run(user, RESPOND, { id, accept });
const respondOk = (user: TestUser, id: string, accept: boolean) =>
  api.ok(user, RESPOND, { id, accept }).then((d) => d.respondToContactRequest);
const requests = (user: TestUser, direction?: "INCOMING" | "OUTGOING") =>
  api.ok(user, REQUESTS, direction ? { direction } : {}).then((d) => d.contactRequests);
const contactsPage = (user: TestUser, first?: number, after?: string) => api.ok(user, CONTACTS, { first, after }).then((d) => d.contacts);
const contactIds = (user: TestUser): Promise<string[]> => contactsPage(user, 100).then((c) => c.edges.map((e: any) => e.node.id));
const mutate = (user: TestUser, name: "removeContact" | "blockUser" | "unblockUser", userId: string) =>
  api.run(user, `mutation($id: ID!) { ${name}(userId: $id) }`, { id: userId });
const blockedIds = (user: TestUser): Promise<string[]> =>
  api.ok(user, `{ blockedUsers { id } }`, {}).then((d) => d.blockedUsers.map((u: any) => u.id));

/** Makes `a` and `b` contacts (a asks, b accepts). */
async function befriend(a: TestUser, b: TestUser): Promise<void> {
  const request = await sendRequestOk(a, b);
  await respondOk(b, request.id, true);
}

describe("contact requests", () => {
  it("creates a PENDING request, INCOMING for the addressee and OUTGOING for the requester", async () => {
    const [a, b] = await registerUsers(server.url, ["req_a", "req_b"]);
    const request = await sendRequestOk(a, b);
    expect(request).toMatchObject({ status: "PENDING", from: { id: a.id }, to: { id: b.id }, respondedAt: null });
    expect(await requests(b)).toEqual([request]);
    expect(await requests(b, "INCOMING")).toEqual([request]);
    expect(await requests(a, "OUTGOING")).toEqual([request]);
    expect(await requests(a, "INCOMING")).toEqual([]);
    expect(await requests(b, "OUTGOING")).toEqual([]);
    expect(await contactIds(a)).toEqual([]);
  });

  it("accepting makes the two contacts of each other and clears the pending lists", async () => {
    const [a, b] = await registerUsers(server.url, ["acc_a", "acc_b"]);
    const request = await sendRequestOk(a, b);
    const accepted = await respondOk(b, request.id, true);
    expect(accepted).toMatchObject({ id: request.id, status: "ACCEPTED", from: { id: a.id }, to: { id: b.id } });
    expect(new Date(accepted.respondedAt).getTime()).toBeGreaterThanOrEqual(new Date(request.createdAt).getTime());
    expect(await contactIds(a)).toEqual([b.id]);
    expect(await contactIds(b)).toEqual([a.id]);
    expect(await requests(b, "INCOMING")).toEqual([]);
    expect(await requests(a, "OUTGOING")).toEqual([]);
  });

  it("declining answers DECLINED, removes the request, and lets the requester ask again", async () => {
    const [a, b] = await registerUsers(server.url, ["dec_a", "dec_b"]);
    const request = await sendRequestOk(a, b);
    expect(await respondOk(b, request.id, false)).toMatchObject({ id: request.id, status: "DECLINED" });
    expect(await requests(b, "INCOMING")).toEqual([]);
    expect(await requests(a, "OUTGOING")).toEqual([]);
    expect(await contactIds(a)).toEqual([]);
    const again = await sendRequestOk(a, b);
    expect(again).toMatchObject({ status: "PENDING", from: { id: a.id } });
    expect(again.id).not.toBe(request.id);
  });

  it("accepts at once when the other user had already asked", async () => {
    const [a, b] = await registerUsers(server.url, ["auto_a", "auto_b"]);
    const request = await sendRequestOk(a, b);
    const reply = await sendRequestOk(b, a);
    expect(reply).toMatchObject({ id: request.id, status: "ACCEPTED", from: { id: a.id }, to: { id: b.id } });
    expect(await contactIds(a)).toEqual([b.id]);
    expect(await contactIds(b)).toEqual([a.id]);
    expect(await requests(b, "INCOMING")).toEqual([]);
  });

  it("returns the existing request when asked again, pending or accepted", async () => {
    const [a, b] = await registerUsers(server.url, ["idem_a", "idem_b"]);
    const first = await sendRequestOk(a, b);
    expect(await sendRequestOk(a, b)).toEqual(first);
    expect(await requests(b, "INCOMING")).toHaveLength(1);
    await respondOk(b, first.id, true);
    expect(await sendRequestOk(a, b)).toMatchObject({ id: first.id, status: "ACCEPTED" });
    expect(await sendRequestOk(b, a)).toMatchObject({ id: first.id, status: "ACCEPTED" });
    expect(await contactIds(a)).toEqual([b.id]);
  });

  it("refuses oneself and malformed ids with BAD_USER_INPUT on userId, and unknown users with NOT_FOUND", async () => {
    const a = await registerUser(server.url, "ref_a");
    expect((await sendRequest(a, a.id)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect((await sendRequest(a, "nope")).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "userId" });
    expect(errorCode(await sendRequest(a, UNKNOWN_ID))).toBe("NOT_FOUND");
  });

  it.each([
    ["the requester blocked the addressee", true],
    ["the addressee blocked the requester", false],
  ])("refuses with FORBIDDEN when %s", async (_label, requesterBlocks) => {
    const [a, b] = await registerUsers(server.url, ["blk_a", "blk_b"]);
    if (requesterBlocks) await mutate(a, "blockUser", b.id);
    else await mutate(b, "blockUser", a.id);
    expect(errorCode(await sendRequest(a, b.id))).toBe("FORBIDDEN");
    expect(await requests(b, "INCOMING")).toEqual([]);
  });

  it("lets only the addressee respond: anybody else gets NOT_FOUND and the request stays pending", async () => {
    const [a, b, c] = await registerUsers(server.url, ["only_a", "only_b", "only_c"]);
    const request = await sendRequestOk(a, b);
    expect(errorCode(await respond(c, request.id, true))).toBe("NOT_FOUND");
    expect(errorCode(await respond(a, request.id, true))).toBe("NOT_FOUND");
    expect(errorCode(await respond(b, UNKNOWN_ID, true))).toBe("NOT_FOUND");
    expect(await requests(b, "INCOMING")).toEqual([request]);
    expect(await contactIds(a)).toEqual([]);
  });

  it("needs a logged-in user", async () => {
    const a = await registerUser(server.url, "anon_a");
    expect(errorCode(await gql(server.url, SEND_REQUEST, { id: a.id }))).toBe("UNAUTHENTICATED");
    expect(errorCode(await gql(server.url, REQUESTS))).toBe("UNAUTHENTICATED");
  });
});

describe("contacts", () => {
  it("lists accepted contacts by username, page by page", async () => {
    const [me, zed, amy, mia, stranger] = await registerUsers(server.url, ["list_me", "zed", "amy", "mia", "stranger"]);
    for (const other of [zed, amy, mia]) await befriend(me, other);
    await sendRequestOk(me, stranger); // pending: not a contact
    const p1 = await contactsPage(me, 2);
    expect(p1.edges.map((e: any) => e.node.id)).toEqual([amy.id, mia.id]);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = await contactsPage(me, 2, p1.pageInfo.endCursor);
    expect(p2.edges.map((e: any) => e.node.id)).toEqual([zed.id]);
    expect(p2.pageInfo.hasNextPage).toBe(false);
  });
});

describe("removeContact", () => {
  it("ends the contact on both sides, and is idempotent", async () => {
    const [a, b, c] = await registerUsers(server.url, ["rm_a", "rm_b", "rm_c"]);
    await befriend(a, b);
    await befriend(a, c);
    expect((await mutate(b, "removeContact", a.id)).data?.removeContact).toBe(true);
    expect(await contactIds(a)).toEqual([c.id]);
    expect(await contactIds(b)).toEqual([]);
    const again = await mutate(b, "removeContact", a.id);
    expect(again.errors).toBeUndefined();
    expect(typeof again.data?.removeContact).toBe("boolean");
  });
});

describe("blocking", () => {
  it("blockUser removes the contact, and blockedUsers lists the blocked user once even when blocked twice", async () => {
    const [a, b] = await registerUsers(server.url, ["bu_a", "bu_b"]);
    await befriend(a, b);
    expect((await mutate(a, "blockUser", b.id)).data?.blockUser).toBe(true);
    expect((await mutate(a, "blockUser", b.id)).errors).toBeUndefined();
    expect(await contactIds(a)).toEqual([]);
    expect(await contactIds(b)).toEqual([]);
    expect(await blockedIds(a)).toEqual([b.id]);
    expect(await blockedIds(b)).toEqual([]);
  });

  it.each([
    ["from the blocker", true],
    ["from the blocked user", false],
  ])("blockUser removes a pending request %s", async (_label, fromBlocker) => {
    const [a, b] = await registerUsers(server.url, ["bp_a", "bp_b"]);
    if (fromBlocker) await sendRequestOk(a, b);
    else await sendRequestOk(b, a);
    await mutate(a, "blockUser", b.id);
    for (const user of [a, b]) {
      expect(await requests(user, "INCOMING")).toEqual([]);
      expect(await requests(user, "OUTGOING")).toEqual([]);
    }
  });

  it("unblockUser lifts the block (idempotently) without restoring the contact", async () => {
    const [a, b] = await registerUsers(server.url, ["ub_a", "ub_b"]);
    await befriend(a, b);
    await mutate(a, "blockUser", b.id);
    expect((await mutate(a, "unblockUser", b.id)).data?.unblockUser).toBe(true);
    expect((await mutate(a, "unblockUser", b.id)).errors).toBeUndefined();
    expect(await blockedIds(a)).toEqual([]);
    expect(await contactIds(a)).toEqual([]);
    expect((await sendRequestOk(b, a)).status).toBe("PENDING");
  });
});

describe("myEvents", () => {
  /** A live myEvents subscription of `user`: `helper` asks and is declined until an event arrives. */
  async function liveEvents(user: TestUser, helper: TestUser) {
    const client = wsClient(server.wsUrl, user.accessToken);
    const sub = subscribe(client, MY_EVENTS);
    await untilReceived(sub, async () => {
      const request = await sendRequestOk(helper, user);
      await respondOk(user, request.id, false);
    });
    return { client, sub };
  }

  it("delivers a PENDING ContactRequest to the addressee, and the ACCEPTED one to the requester", async () => {
    const [a, b, helper] = await registerUsers(server.url, ["ev_a", "ev_b", "ev_helper"]);
    const bEvents = await liveEvents(b, helper);
    const aEvents = await liveEvents(a, helper);

    const request = await sendRequestOk(a, b);
    const received = await bEvents.sub.nextWhere((e) => e.data?.myEvents.from?.id === a.id);
    expect(received.data.myEvents).toEqual({ __typename: "ContactRequest", id: request.id, status: "PENDING", from: { id: a.id } });

    await respondOk(b, request.id, true);
    const accepted = await aEvents.sub.nextWhere((e) => e.data?.myEvents.id === request.id);
    expect(accepted.data.myEvents).toEqual({ __typename: "ContactRequest", id: request.id, status: "ACCEPTED", from: { id: a.id } });
    await Promise.all([bEvents.client.dispose(), aEvents.client.dispose()]);
  });
});
