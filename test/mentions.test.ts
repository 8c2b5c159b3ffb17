/**
 * Mentions (issue 5 contract), one node with Redis pub/sub: `@username` in
 * sendMessage/editMessage fills Message.mentions and gives each mentioned member
 * a MentionNotification, live on myEvents and stored in `notifications` — never
 * to the sender, a non-member, or someone who blocked the sender, and never for
 * an email address. An edit notifies only newly mentioned members; deleting the
 * message removes its notifications. notifications(first, after, unread) and
 * markNotificationRead (own only, idempotent).
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ext, type GqlResponse, registerUsers, type Subscription, subscribe, type TestUser, warmUp } from "./helpers/client.js";
import { makeRoom } from "./helpers/rooms.js";
import { useTestServer } from "./helpers/server.js";

const MY_EVENTS = `subscription { myEvents { __typename
  ... on AddedToRoom { room { id } }
  ... on MentionNotification { id read readAt createdAt message { id content sender { id } room { id } } } } }`;
const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id content mentions { id username } } }`;
const EDIT = `mutation($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id content mentions { id } } }`;
const DELETE_MESSAGE = `mutation($id: ID!) { deleteMessage(id: $id) { id deletedAt } }`;
const BLOCK = `mutation($u: ID!) { blockUser(userId: $u) }`;
const NOTIFICATIONS = `query($first: Int, $after: String, $unread: Boolean) { notifications(first: $first, after: $after, unread: $unread) {
  edges { cursor node { id read readAt createdAt message { id content sender { id } room { id } } } }
  pageInfo { hasNextPage endCursor } } }`;
const MARK = `mutation($id: ID!) { markNotificationRead(id: $id) { id read readAt message { id } } }`;

const myEvent = (e: GqlResponse) => e.data?.myEvents;
/** A MentionNotification event about `messageId` (any message when omitted). */
const isMention = (messageId?: string) => (e: GqlResponse) =>
  myEvent(e)?.__typename === "MentionNotification" && (messageId === undefined || myEvent(e).message.id === messageId);

describe("mentions and notifications", () => {
  const {
    server,
    api,
    client,
    users: [alice, bob, carol, _dave, helper],
  } = useTestServer(["alice", "bob", "carol", "dave", "helper"], { redis: true });

  const send = async (sender: TestUser, roomId: string, content: string) =>
    (await api.ok(sender, SEND, { r: roomId, c: content })).sendMessage;
  /** All of `user`'s notifications (newest first), following pages. */
  async function allNotifications(user: TestUser, unread?: boolean): Promise<any[]> {
    const nodes: any[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await api.ok(user, NOTIFICATIONS, { first: 100, after, unread })).notifications;
      nodes.push(...page.edges.map((e: any) => e.node));
      if (!page.pageInfo.hasNextPage) return nodes;
      after = page.pageInfo.endCursor;
    }
  }
  /** `viewer`'s live myEvents, warmed up with AddedToRoom events from throwaway rooms made by `helper`. */
  async function watchMe(viewer: TestUser): Promise<Subscription> {
    const sub = subscribe(client(viewer), MY_EVENTS);
    await warmUp(sub, () => makeRoom(api, helper, { members: [viewer] }));
    return sub;
  }
  /**
   * Makes a MentionNotification for `user` from `helper` in a fresh room and
   * waits for it on `sub`: every event published before it has then arrived.
   */
  async function sentinel(sub: Subscription, user: TestUser): Promise<void> {
    const r = await makeRoom(api, helper, { members: [user] });
    const m = await send(helper, r, `sentinel @${user.username}`);
    await sub.nextWhere(isMention(m.id));
  }

  it("notifies a mentioned member on myEvents and in notifications, and lists them in Message.mentions", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const bobs = await watchMe(bob);
    const carols = await watchMe(carol);
    const m = await send(alice, r, `Hi @${bob.username} and @${carol.username}, see you`);
    expect(m.mentions.map((u: any) => u.id).sort()).toEqual([bob.id, carol.id].sort());

    const event = myEvent(await bobs.nextWhere(isMention(m.id)));
    expect(event).toMatchObject({
      read: false,
      readAt: null,
      message: { id: m.id, content: m.content, sender: { id: alice.id }, room: { id: r } },
    });
    expect(Number.isNaN(Date.parse(event.createdAt))).toBe(false);
    await carols.nextWhere(isMention(m.id));

    const stored = (await allNotifications(bob)).filter((n) => n.message.id === m.id);
    expect(stored).toEqual([
      {
        id: event.id,
        read: false,
        readAt: null,
        createdAt: event.createdAt,
        message: { id: m.id, content: m.content, sender: { id: alice.id }, room: { id: r } },
      },
    ]);
  });

  it("matches usernames in any case and at the end of a sentence, once per user however often mentioned", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const bobs = await watchMe(bob);
    const m = await send(alice, r, `@${bob.username.toUpperCase()} look. Thanks @${bob.username}.`);
    expect(m.mentions).toEqual([{ id: bob.id, username: bob.username }]);
    await bobs.nextWhere(isMention(m.id));
    await sentinel(bobs, bob);
    expect(bobs.events.filter(isMention(m.id))).toHaveLength(1);
    expect((await allNotifications(bob)).filter((n) => n.message.id === m.id)).toHaveLength(1);
  });

  it("does not notify the sender, a non-member, or a member who blocked the sender", async () => {
    const [sender, blocker, member, outsider] = await registerUsers(server.url, ["sender", "blocker", "member", "outsider"]);
    const r = await makeRoom(api, sender, { members: [blocker, member] });
    await api.ok(blocker, BLOCK, { u: sender.id });
    const watchers = { sender: await watchMe(sender), blocker: await watchMe(blocker), outsider: await watchMe(outsider) };
    const m = await send(sender, r, `@${sender.username} @${blocker.username} @${outsider.username} @${member.username}`);
    expect(m.mentions).toEqual([{ id: member.id, username: member.username }]);

    // a notification each of them does get afterwards: anything about `m` would have come before it
    for (const [name, sub] of Object.entries(watchers)) {
      const user = { sender, blocker, outsider }[name as keyof typeof watchers];
      await sentinel(sub, user);
      expect(sub.events.filter(isMention(m.id)), name).toEqual([]);
      expect(
        (await allNotifications(user)).filter((n) => n.message.id === m.id),
        name,
      ).toEqual([]);
    }
    expect((await allNotifications(member)).filter((n) => n.message.id === m.id)).toHaveLength(1);
  });

  it("a block only stops mentions from the blocked user", async () => {
    const [blocker, blocked, other] = await registerUsers(server.url, ["blocker", "blocked", "other"]);
    const r = await makeRoom(api, other, { members: [blocker, blocked] });
    await api.ok(blocker, BLOCK, { u: blocked.id });
    const fromBlocked = await send(blocked, r, `hey @${blocker.username}`);
    const fromOther = await send(other, r, `hey @${blocker.username}`);
    expect(fromBlocked.mentions).toEqual([]);
    expect(fromOther.mentions).toEqual([{ id: blocker.id, username: blocker.username }]);
    // the user who blocked can still mention the one they blocked
    const fromBlocker = await send(blocker, r, `hey @${blocked.username}`);
    expect(fromBlocker.mentions).toEqual([{ id: blocked.id, username: blocked.username }]);
    expect((await allNotifications(blocker)).map((n) => n.message.id)).toEqual([fromOther.id]);
  });

  it("email addresses are not mentions", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const bobs = await watchMe(bob);
    const m = await send(alice, r, `Write to ${bob.username}@example.com or mail@${bob.username}.com or a@${bob.username}`);
    expect(m.mentions).toEqual([]);
    await sentinel(bobs, bob);
    expect(bobs.events.filter(isMention(m.id))).toEqual([]);
    expect((await allNotifications(bob)).filter((n) => n.message.id === m.id)).toEqual([]);
  });

  it("an unknown username mentions nobody", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const m = await send(alice, r, `@nobody_${randomUUID().slice(0, 8)} hello`);
    expect(m.mentions).toEqual([]);
  });

  it("an edit that adds a mention notifies only the newly mentioned member", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const bobs = await watchMe(bob);
    const carols = await watchMe(carol);
    const m = await send(alice, r, `ping @${bob.username}`);
    await bobs.nextWhere(isMention(m.id));

    const edited = (await api.ok(alice, EDIT, { id: m.id, c: `ping @${bob.username} and @${carol.username}` })).editMessage;
    expect(edited.mentions.map((u: any) => u.id).sort()).toEqual([bob.id, carol.id].sort());
    const carolsEvent = myEvent(await carols.nextWhere(isMention(m.id)));
    expect(carolsEvent.message.content).toBe(`ping @${bob.username} and @${carol.username}`);

    // a second edit keeping both mentions notifies nobody again
    await api.ok(alice, EDIT, { id: m.id, c: `ping @${bob.username} and @${carol.username}!` });
    await sentinel(bobs, bob);
    await sentinel(carols, carol);
    expect(bobs.events.filter(isMention(m.id))).toHaveLength(1);
    expect(carols.events.filter(isMention(m.id))).toHaveLength(1);
    expect((await allNotifications(bob)).filter((n) => n.message.id === m.id)).toHaveLength(1);
    expect((await allNotifications(carol)).filter((n) => n.message.id === m.id).map((n) => n.id)).toEqual([carolsEvent.id]);
  });

  it("an edit that removes a mention and adds it back does not notify twice", async () => {
    const r = await makeRoom(api, alice, { members: [bob] });
    const bobs = await watchMe(bob);
    const m = await send(alice, r, `hello @${bob.username}`);
    await bobs.nextWhere(isMention(m.id));
    expect((await api.ok(alice, EDIT, { id: m.id, c: "hello" })).editMessage.mentions).toEqual([]);
    expect((await api.ok(alice, EDIT, { id: m.id, c: `hello again @${bob.username}` })).editMessage.mentions).toEqual([{ id: bob.id }]);
    await sentinel(bobs, bob);
    expect(bobs.events.filter(isMention(m.id))).toHaveLength(1);
    expect((await allNotifications(bob)).filter((n) => n.message.id === m.id)).toHaveLength(1);
  });

  it("deleting the message removes its notifications", async () => {
    const r = await makeRoom(api, alice, { members: [bob, carol] });
    const m = await send(alice, r, `@${bob.username} @${carol.username} secret`);
    const keep = await send(alice, r, `@${bob.username} this one stays`);
    expect((await allNotifications(bob)).filter((n) => n.message.id === m.id)).toHaveLength(1);
    await api.ok(alice, DELETE_MESSAGE, { id: m.id });
    const bobsIds = (await allNotifications(bob)).map((n) => n.message.id);
    expect(bobsIds).not.toContain(m.id);
    expect(bobsIds).toContain(keep.id);
    expect((await allNotifications(carol)).map((n) => n.message.id)).not.toContain(m.id);
    expect((await allNotifications(bob, true)).map((n) => n.message.id)).not.toContain(m.id);
  });

  it("notifications: newest first, paged with first/after without duplicates, unread filter", async () => {
    const [sender, reader] = await registerUsers(server.url, ["sender", "reader"]);
    const r = await makeRoom(api, sender, { members: [reader] });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push((await send(sender, r, `note ${i} @${reader.username}`)).id);

    const pages: any[][] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await api.ok(reader, NOTIFICATIONS, { first: 2, after })).notifications;
      expect(page.edges.length).toBeLessThanOrEqual(2);
      pages.push(page.edges.map((e: any) => e.node));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
      expect(pages.length).toBeLessThan(10);
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const messageIds = pages.flat().map((n) => n.message.id);
    expect(messageIds).toEqual([...sent].reverse());
    expect(new Set(pages.flat().map((n) => n.id)).size).toBe(5);

    // read two, then unread: true lists the other three, still newest first
    const byMessage = new Map(pages.flat().map((n) => [n.message.id, n.id]));
    await api.ok(reader, MARK, { id: byMessage.get(sent[1]) });
    await api.ok(reader, MARK, { id: byMessage.get(sent[3]) });
    expect((await allNotifications(reader, true)).map((n) => n.message.id)).toEqual([sent[4], sent[2], sent[0]]);
    const all = await allNotifications(reader);
    expect(all.map((n) => [n.message.id, n.read])).toEqual([
      [sent[4], false],
      [sent[3], true],
      [sent[2], false],
      [sent[1], true],
      [sent[0], false],
    ]);
    // unread: false is not a filter for read ones: all of them
    expect((await allNotifications(reader, false)).map((n) => n.message.id)).toHaveLength(5);
    // unread paging too
    const first = (await api.ok(reader, NOTIFICATIONS, { first: 2, unread: true })).notifications;
    expect(first.edges.map((e: any) => e.node.message.id)).toEqual([sent[4], sent[2]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await api.ok(reader, NOTIFICATIONS, { first: 2, unread: true, after: first.pageInfo.endCursor })).notifications;
    expect(second.edges.map((e: any) => e.node.message.id)).toEqual([sent[0]]);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it("markNotificationRead: sets read and readAt, is idempotent, and only for one's own notifications", async () => {
    const [sender, reader] = await registerUsers(server.url, ["sender", "reader"]);
    const r = await makeRoom(api, sender, { members: [reader] });
    const m = await send(sender, r, `read me @${reader.username}`);
    const [notification] = await allNotifications(reader);
    expect(notification).toMatchObject({ read: false, readAt: null, message: { id: m.id } });

    // someone else's notification (the sender's, another member's, anyone's): NOT_FOUND, and it stays unread
    for (const other of [sender, alice]) {
      const res = await api.run(other, MARK, { id: notification.id });
      expect(res.data?.markNotificationRead ?? null).toBeNull();
      expect(ext(res)).toMatchObject({ code: "NOT_FOUND" });
    }
    expect((await allNotifications(reader))[0]).toMatchObject({ id: notification.id, read: false, readAt: null });
    // an id that is no notification at all
    expect(ext(await api.run(reader, MARK, { id: randomUUID() }))).toMatchObject({ code: "NOT_FOUND" });

    const before = Date.now();
    const read = (await api.ok(reader, MARK, { id: notification.id })).markNotificationRead;
    expect(read).toMatchObject({ id: notification.id, read: true, message: { id: m.id } });
    expect(Date.parse(read.readAt)).toBeGreaterThanOrEqual(before - 5000);
    expect(Date.parse(read.readAt)).toBeLessThanOrEqual(Date.now() + 5000);
    const again = (await api.ok(reader, MARK, { id: notification.id })).markNotificationRead;
    expect(again).toEqual(read);
    expect((await allNotifications(reader))[0]).toMatchObject({ id: notification.id, read: true, readAt: read.readAt });
    expect(await allNotifications(reader, true)).toEqual([]);
  });

  it("notifications and markNotificationRead need a login", async () => {
    const anonymous = { ...alice, accessToken: "" };
    expect(ext(await api.run(anonymous, NOTIFICATIONS, {}))).toMatchObject({ code: "UNAUTHENTICATED" });
    expect(ext(await api.run(anonymous, MARK, { id: randomUUID() }))).toMatchObject({ code: "UNAUTHENTICATED" });
  });
});
