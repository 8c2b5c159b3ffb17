/**
 * searchMessages (issue 5 contract), one node: PostgreSQL full-text search over
 * the messages of the viewer's rooms only (a room they are not in, or have
 * left, never shows), optionally one room (roomId; a GROUP room they are not in
 * is NOT_FOUND); web-search syntax ("phrase", -excluded, or); deleted messages
 * left out; an HTML-escaped snippet with the matches in <mark>; first/after
 * paging with no duplicate; an empty query is BAD_USER_INPUT on `query`.
 * Each test searches for words of its own (random letters) so tests do not see
 * each other's messages.
 */
import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ext, type TestUser } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const SEARCH = `query($q: String!, $r: ID, $first: Int, $after: String) { searchMessages(query: $q, roomId: $r, first: $first, after: $after) {
  edges { cursor node { snippet message { id content deletedAt room { id } sender { id } } } }
  pageInfo { hasNextPage endCursor } } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id content } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id } }`;
const DELETE_MESSAGE = `mutation($id: ID!) { deleteMessage(id: $id) { id } }`;
const LEAVE = `mutation($r: ID!) { leaveRoom(roomId: $r) }`;
const JOIN = `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`;

/** A word no other message has: letters only, so the 'simple' parser keeps it whole. */
const word = (prefix = "w") => prefix + Array.from({ length: 10 }, () => String.fromCharCode(97 + randomInt(26))).join("");

describe("searchMessages", () => {
  const {
    api,
    users: [alice, bob, eve],
  } = useTestServer(["alice", "bob", "eve"]);

  const send = async (sender: TestUser, roomId: string, content: string): Promise<string> =>
    (await api.ok(sender, SEND, { r: roomId, c: content })).sendMessage.id;
  /** `viewer`'s hits (first page of up to 100) for `query`, optionally in one room. */
  const search = async (viewer: TestUser, query: string, roomId?: string) =>
    (await api.ok(viewer, SEARCH, { q: query, r: roomId ?? null, first: 100 })).searchMessages.edges.map((e: any) => e.node);
  const ids = (hits: any[]) => hits.map((h) => h.message.id).sort();

  it("finds a word in the messages of the viewer's rooms, never in a room the viewer is not in", async () => {
    const w = word();
    const shared = await makeRoom(api, alice, { members: [bob] });
    const alicesOther = await makeRoom(api, alice);
    const evesRoom = await makeRoom(api, eve, { members: [bob] });
    const evesPublic = await makeRoom(api, eve, { type: "PUBLIC" });
    const m1 = await send(alice, shared, `the ${w} is here`);
    const m2 = await send(bob, shared, `${w.toUpperCase()}! said bob`);
    const m3 = await send(alice, alicesOther, `another ${w}`);
    const hidden = await send(eve, evesRoom, `secret ${w} of eve`);
    const hiddenPublic = await send(eve, evesPublic, `public ${w} of eve`);
    await send(alice, shared, "nothing to see");

    const hits = await search(alice, w);
    expect(ids(hits)).toEqual([m1, m2, m3].sort());
    const m2hit = hits.find((h: any) => h.message.id === m2);
    expect(m2hit.message).toMatchObject({
      content: `${w.toUpperCase()}! said bob`,
      room: { id: shared },
      sender: { id: bob.id },
      deletedAt: null,
    });
    expect(ids(await search(bob, w))).toEqual([m1, m2, hidden].sort());
    expect(ids(await search(eve, w))).toEqual([hidden, hiddenPublic].sort());
    // joining the PUBLIC room makes its messages searchable
    await api.ok(alice, JOIN, { r: evesPublic });
    expect(ids(await search(alice, w))).toEqual([m1, m2, m3, hiddenPublic].sort());
  });

  it("after leaving a room its messages no longer show", async () => {
    const w = word();
    const r = await makeRoom(api, alice, { members: [bob] });
    const m = await send(alice, r, `before leaving ${w}`);
    expect(ids(await search(bob, w))).toEqual([m]);
    await api.ok(bob, LEAVE, { r });
    expect(await search(bob, w)).toEqual([]);
    expect(ids(await search(alice, w))).toEqual([m]);
  });

  it("roomId limits the search to one of the viewer's rooms; a GROUP room they are not in is NOT_FOUND", async () => {
    const w = word();
    const r1 = await makeRoom(api, alice, { members: [bob] });
    const r2 = await makeRoom(api, alice, { members: [bob] });
    const evesRoom = await makeRoom(api, eve);
    const in1 = await send(alice, r1, `${w} in one`);
    const in2 = await send(bob, r2, `${w} in two`);
    await send(eve, evesRoom, `${w} in eve's`);
    const hits = await search(alice, w, r1);
    expect(ids(hits)).toEqual([in1]);
    expect(hits[0].message.room.id).toBe(r1);
    expect(ids(await search(bob, w, r2))).toEqual([in2]);

    const res = await api.run(alice, SEARCH, { q: w, r: evesRoom });
    expect(res.data?.searchMessages ?? null).toBeNull();
    expect(ext(res)).toMatchObject({ code: "NOT_FOUND" });
  });

  it('web-search syntax: "phrases", -excluded words, or', async () => {
    const a = word("a");
    const b = word("b");
    const c = word("c");
    const r = await makeRoom(api, alice);
    const ab = await send(alice, r, `${a} ${b} together`);
    const ba = await send(alice, r, `${b} then ${a}, reversed`);
    const abc = await send(alice, r, `${a} ${b} with ${c}`);
    const onlyC = await send(alice, r, `just ${c}`);

    // words: all of them, in any order
    expect(ids(await search(alice, `${a} ${b}`))).toEqual([ab, ba, abc].sort());
    // a phrase: the words next to each other, in order
    expect(ids(await search(alice, `"${a} ${b}"`))).toEqual([ab, abc].sort());
    // -excluded
    expect(ids(await search(alice, `${a} -${c}`))).toEqual([ab, ba].sort());
    expect(ids(await search(alice, `"${a} ${b}" -${c}`))).toEqual([ab]);
    // or
    expect(ids(await search(alice, `${c} or ${b}`))).toEqual([ab, ba, abc, onlyC].sort());
  });

  it("leaves deleted messages out, and finds edited messages by their current content", async () => {
    const w = word();
    const old = word("o");
    const r = await makeRoom(api, alice, { members: [bob] });
    const kept = await send(alice, r, `keep ${w}`);
    const gone = await send(bob, r, `delete ${w}`);
    const edited = await send(alice, r, `was ${old}`);
    expect(ids(await search(alice, w))).toEqual([kept, gone].sort());
    await api.ok(bob, DELETE_MESSAGE, { id: gone });
    expect(ids(await search(alice, w))).toEqual([kept]);
    expect(ids(await search(bob, w))).toEqual([kept]);

    await api.ok(alice, EDIT, { id: edited, c: `now ${w}` });
    expect(await search(alice, old)).toEqual([]);
    expect(ids(await search(alice, w))).toEqual([kept, edited].sort());
  });

  it("snippet: the match in <mark>, everything else HTML-escaped, no markup of the content survives", async () => {
    const w = word();
    const r = await makeRoom(api, alice);
    await send(alice, r, `1 < 2 && "x" > 'y' ${w} <b>bold</b> <img src=x onerror=alert(1)>`);
    const [hit] = await search(alice, w);
    expect(hit.snippet).toContain(`<mark>${w}</mark>`);
    expect(hit.snippet).not.toContain("<b>");
    expect(hit.snippet).not.toContain("<img");
    expect(hit.snippet).not.toMatch(/&(?!#\d+;)/); // every & starts an entity
    expect(hit.snippet.replace(/<\/?mark>/g, "")).not.toMatch(/[<>"']/); // no tag, no quote but <mark>
  });

  it("snippet: content with <script> shows it escaped, as &#60;script&#62;", async () => {
    const w = word();
    const r = await makeRoom(api, alice);
    await send(alice, r, `<script>alert(1)</script> ${w}`);
    const [hit] = await search(alice, w);
    expect(hit.snippet).toContain(`<mark>${w}</mark>`);
    expect(hit.snippet).not.toContain("<script>");
    expect(hit.snippet).toContain("&#60;script&#62;");
  });

  it("snippet: a word written inside markup is still marked (and the markup escaped)", async () => {
    const x = word("x");
    const r = await makeRoom(api, alice);
    await send(alice, r, `<i>${x}</i>`);
    const [tagged] = await search(alice, x);
    expect(tagged.snippet).toContain(`<mark>${x}</mark>`);
    expect(tagged.snippet).toContain("&#60;i&#62;");
  });

  it("marks every matched word of a phrase and of several words", async () => {
    const a = word("a");
    const b = word("b");
    const r = await makeRoom(api, alice);
    await send(alice, r, `first ${a} then some words ${b} last`);
    const [hit] = await search(alice, `${a} ${b}`);
    expect(hit.snippet).toContain(`<mark>${a}</mark>`);
    expect(hit.snippet).toContain(`<mark>${b}</mark>`);
    expect(hit.snippet).not.toContain("<mark>first</mark>");
  });

  it("pages with first/after: every hit once, hasNextPage false at the end", async () => {
    const w = word();
    const r = await makeRoom(api, alice, { members: [bob] });
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push(await send(i % 2 ? bob : alice, r, `page ${i} ${w}${i % 3 === 0 ? ` ${w}` : ""}`));

    const seen: string[] = [];
    const sizes: number[] = [];
    let after: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const page: any = (await api.ok(alice, SEARCH, { q: w, first: 3, after })).searchMessages;
      sizes.push(page.edges.length);
      seen.push(...page.edges.map((e: any) => e.node.message.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect([...seen].sort()).toEqual([...sent].sort());
    // the pages together are the one-page result, in the same order
    expect(seen).toEqual((await search(alice, w)).map((h: any) => h.message.id));
  });

  it("best matches first, then newest", async () => {
    const w = word();
    const r = await makeRoom(api, alice);
    const older = await send(alice, r, `${w} once, older`);
    const newer = await send(alice, r, `${w} once, newer`);
    const best = await send(alice, r, `${w} ${w} ${w} three times`);
    const order = (await search(alice, w)).map((h: any) => h.message.id);
    expect(order).toEqual([best, newer, older]);
  });

  it("an empty or blank query is BAD_USER_INPUT on query", async () => {
    for (const q of ["", "   "]) {
      const res = await api.run(alice, SEARCH, { q });
      expect(res.data?.searchMessages ?? null, JSON.stringify(q)).toBeNull();
      expect(ext(res), JSON.stringify(q)).toMatchObject({ code: "BAD_USER_INPUT", field: "query" });
    }
  });

  it("needs a login", async () => {
    const res = await api.run({ ...alice, accessToken: "" }, SEARCH, { q: "hello" });
    expect(ext(res)).toMatchObject({ code: "UNAUTHENTICATED" });
  });
});
