/**
 * Users (issue 3): updateProfile and its validation, displayName's default,
 * what only the user themself sees (email, phoneNumber, settings),
 * updateSettings, `user(id)`, and the directory search `users(search, first, after)`.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { errorCode, gql, gqlOk, registerUser, registerUsers, type TestUser } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const { server, api } = useTestServer([]);

const SETTINGS_FIELDS = `notificationSound emailNotifications pushNotifications showOnlineStatus showReadReceipts allowDirectMessages autoJoinPublicRooms`;
const PROFILE_FIELDS = `id username firstName lastName displayName avatar email phoneNumber bio status lastSeenAt language timezone createdAt settings { ${SETTINGS_FIELDS} }`;
const ME = `{ me { ${PROFILE_FIELDS} } }`;
const USER = `query($id: ID!) { user(id: $id) { ${PROFILE_FIELDS} } }`;
const UPDATE_PROFILE = `mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { ${PROFILE_FIELDS} } }`;
const UPDATE_SETTINGS = `mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { ${SETTINGS_FIELDS} } }`;
const USERS = `query($search: String, $first: Int, $after: String) {
  users(search: $search, first: $first, after: $after) { edges { cursor node { id username displayName } } pageInfo { hasNextPage endCursor } } }`;
const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken user { id username } } }`;

const DEFAULT_SETTINGS = {
  notificationSound: true,
  emailNotifications: true,
  pushNotifications: true,
  showOnlineStatus: true,
  showReadReceipts: true,
  allowDirectMessages: true,
  autoJoinPublicRooms: false,
};

/** Registers a user with exactly these names (the shared helper picks its own username). */
async function registerAs(username: string, firstName: string, lastName: string, email = `${username}@example.com`): Promise<TestUser> {
  const input = { username, email, password: "correct horse battery", firstName, lastName };
  const { register } = await gqlOk(server.url, REGISTER, { input });
  return { id: register.user.id, username, accessToken: register.accessToken, refreshToken: register.refreshToken };
}

const me = (user: TestUser) => api.ok(user, ME, {}).then((d) => d.me);
const updateProfile = (user: TestUser, input: Record<string, unknown>) => api.run(user, UPDATE_PROFILE, { input });
const updateSettings = (user: TestUser, input: Record<string, unknown>) => api.run(user, UPDATE_SETTINGS, { input });
const userAs = (viewer: TestUser, id: string) => api.ok(viewer, USER, { id }).then((d) => d.user);
const block = (blocker: TestUser, userId: string) => api.ok(blocker, `mutation($id: ID!) { blockUser(userId: $id) }`, { id: userId });

/** One page of the directory as `viewer` sees it. */
const searchPage = (viewer: TestUser, search: string, first?: number, after?: string) =>
  api.ok(viewer, USERS, { search, first, after }).then((d) => d.users);
/** The ids of the first page (up to 100) of a directory search. */
const searchIds = (viewer: TestUser, search: string): Promise<string[]> =>
  searchPage(viewer, search, 100).then((p) => p.edges.map((e: any) => e.node.id));

describe("displayName", () => {
  it("defaults to 'firstName lastName' and follows name changes until one is set", async () => {
    const user = await registerAs("grace_h", "Grace", "Hopper");
    expect((await me(user)).displayName).toBe("Grace Hopper");
    expect((await updateProfile(user, { lastName: "Murray" })).data?.updateProfile.displayName).toBe("Grace Murray");
    expect((await updateProfile(user, { displayName: "Amazing Grace" })).data?.updateProfile.displayName).toBe("Amazing Grace");
    expect((await updateProfile(user, { firstName: "G." })).data?.updateProfile.displayName).toBe("Amazing Grace");
    expect((await updateProfile(user, { displayName: null })).data?.updateProfile.displayName).toBe("G. Murray");
  });
});

describe("updateProfile", () => {
  it.each([
    ["firstName", "Ada", { displayName: "Ada Test" }],
    ["lastName", "Byron", { displayName: "prof Byron" }],
    ["displayName", "The Countess", {}],
    ["avatar", "https://cdn.example.com/a/ada.png", {}],
    ["phoneNumber", "+14155550123", {}],
    ["bio", "Wrote the first program.", {}],
    ["language", "fr-CA", {}],
    ["timezone", "Europe/Paris", {}],
  ])("changes %s alone, leaving the other fields as they were", async (field, value, derived) => {
    const user = await registerUser(server.url, "prof");
    const before = await me(user);
    const result = await updateProfile(user, { [field]: value });
    expect(result.errors).toBeUndefined();
    const expected = { ...before, [field]: value, ...derived };
    expect(result.data?.updateProfile).toEqual(expected);
    expect(await me(user)).toEqual(expected);
  });

  it("starts with language en, timezone UTC, and no avatar, phone or bio", async () => {
    const user = await registerUser(server.url, "fresh");
    expect(await me(user)).toMatchObject({ language: "en", timezone: "UTC", avatar: null, phoneNumber: null, bio: null });
  });

  it("clears a nullable field given null", async () => {
    const user = await registerAs("clearable", "Clara", "Schumann");
    const filled = { avatar: "http://example.com/c.jpg", phoneNumber: "+4930123456", bio: "Pianist", displayName: "Clara S." };
    expect((await updateProfile(user, filled)).data?.updateProfile).toMatchObject(filled);
    const cleared = await updateProfile(user, { avatar: null, phoneNumber: null, bio: null, displayName: null });
    expect(cleared.data?.updateProfile).toMatchObject({ avatar: null, phoneNumber: null, bio: null, displayName: "Clara Schumann" });
    expect(await me(user)).toMatchObject({ avatar: null, phoneNumber: null, bio: null, displayName: "Clara Schumann" });
  });

  it.each([
    [{ timezone: "Mars/Olympus_Mons" }, "input.timezone"],
    [{ avatar: "not a url" }, "input.avatar"],
    [{ avatar: "ftp://example.com/a.png" }, "input.avatar"],
    [{ avatar: "javascript:alert(1)" }, "input.avatar"],
    [{ status: "OFFLINE" }, "input.status"],
    [{ phoneNumber: "12345" }, "input.phoneNumber"],
    [{ firstName: "   " }, "input.firstName"],
    [{ firstName: null }, "input.firstName"],
    [{ timezone: null }, "input.timezone"],
  ])("refuses %j with BAD_USER_INPUT on %s and changes nothing", async (input, field) => {
    const user = await registerUser(server.url, "bad");
    const before = await me(user);
    const result = await updateProfile(user, { bio: "should not be stored", ...input });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(await me(user)).toEqual(before);
  });

  it("needs a logged-in user", async () => {
    expect(errorCode(await gql(server.url, UPDATE_PROFILE, { input: { bio: "x" } }))).toBe("UNAUTHENTICATED");
  });
});

describe("what only the user themself sees", () => {
  let owner: TestUser, other: TestUser;
  beforeAll(async () => {
    [owner, other] = await registerUsers(server.url, ["owner", "other"]);
    await updateProfile(owner, { phoneNumber: "+14155550199", bio: "public bio" });
  });

  it("shows email, phoneNumber and settings to the user, through me and user(id)", async () => {
    for (const self of [await me(owner), await userAs(owner, owner.id)]) {
      expect(self).toMatchObject({ email: `${owner.username}@example.com`, phoneNumber: "+14155550199", settings: DEFAULT_SETTINGS });
    }
  });

  it("hides them (null) from anybody else, who still sees the public fields", async () => {
    expect(await userAs(other, owner.id)).toMatchObject({
      id: owner.id,
      username: owner.username,
      bio: "public bio",
      email: null,
      phoneNumber: null,
      settings: null,
    });
  });
});

describe("updateSettings", () => {
  it("starts with everything on except autoJoinPublicRooms", async () => {
    const user = await registerUser(server.url, "settings");
    expect((await me(user)).settings).toEqual(DEFAULT_SETTINGS);
  });

  it("changes only the given settings and returns them all", async () => {
    const user = await registerUser(server.url, "settings");
    const first = await updateSettings(user, { emailNotifications: false, autoJoinPublicRooms: true });
    const expected = { ...DEFAULT_SETTINGS, emailNotifications: false, autoJoinPublicRooms: true };
    expect(first.data?.updateSettings).toEqual(expected);
    const second = await updateSettings(user, { showReadReceipts: false });
    expect(second.data?.updateSettings).toEqual({ ...expected, showReadReceipts: false });
    expect((await me(user)).settings).toEqual({ ...expected, showReadReceipts: false });
  });

  it("needs a logged-in user", async () => {
    expect(errorCode(await gql(server.url, UPDATE_SETTINGS, { input: { showOnlineStatus: false } }))).toBe("UNAUTHENTICATED");
  });
});

describe("user(id)", () => {
  it("returns the user with that id", async () => {
    const [viewer, target] = await registerUsers(server.url, ["viewer", "target"]);
    expect(await userAs(viewer, target.id)).toMatchObject({
      id: target.id,
      username: target.username,
      displayName: "target Test",
      status: "OFFLINE",
    });
  });

  it("is null for an unknown id", async () => {
    const viewer = await registerUser(server.url, "viewer");
    expect(await userAs(viewer, "00000000-0000-4000-8000-000000000000")).toBeNull();
  });

  it("refuses a malformed id with BAD_USER_INPUT on id", async () => {
    const viewer = await registerUser(server.url, "viewer");
    const result = await api.run(viewer, USER, { id: "nope" });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "id" });
  });
});

describe("users (directory)", () => {
  let viewer: TestUser, hamilton: TestUser, dumas: TestUser, octavius: TestUser, meadow: TestUser, quentin: TestUser, heron: TestUser;
  beforeAll(async () => {
    viewer = await registerUser(server.url, "viewer");
    hamilton = await registerAs("alexander_hamilton", "Alexander", "Hamilton");
    dumas = await registerAs("alexandre_dumas", "Alexandre", "Dumas");
    octavius = await registerAs("octavius_prime", "Octavius", "Prime");
    meadow = await registerAs("pfx_dn_user", "Plain", "Person");
    quentin = await registerAs("qb_user", "Quentin", "Blackwood");
    heron = await registerAs("silent_heron", "Silent", "Heron", "zanzibarpostbox@example.com");
    await updateProfile(meadow, { displayName: "Wildflower Meadow" });
  });

  it("finds users by a prefix of their username", async () => {
    expect(await searchIds(viewer, "octav")).toContain(octavius.id);
  });

  it("finds users by a prefix of their displayName, set or default", async () => {
    expect(await searchIds(viewer, "Wildfl")).toContain(meadow.id);
    expect(await searchIds(viewer, "Quentin Bl")).toContain(quentin.id);
  });

  it("finds similar names (trigram similarity), ranking prefix matches first", async () => {
    // "alexandr" is a prefix of alexandre_dumas, and only similar to alexander_hamilton
    const ids = await searchIds(viewer, "alexandr");
    expect(ids).toContain(hamilton.id);
    expect(ids.indexOf(dumas.id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(dumas.id)).toBeLessThan(ids.indexOf(hamilton.id));
  });

  it("never matches on email", async () => {
    expect(await searchIds(viewer, "silent_her")).toContain(heron.id);
    expect(await searchIds(viewer, "zanzibarpostbox")).not.toContain(heron.id);
  });

  it("pages with first/after, without duplicates, until hasNextPage is false", async () => {
    const pagers = await Promise.all([1, 2, 3, 4, 5].map((i) => registerAs(`zq_pager_${i}`, "Pager", `Number${i}`)));
    const seen: string[] = [];
    const more: boolean[] = [];
    let after: string | undefined;
    do {
      const page = await searchPage(viewer, "zq_pager", 2, after);
      seen.push(...page.edges.map((e: any) => e.node.id));
      more.push(page.pageInfo.hasNextPage);
      after = page.pageInfo.endCursor;
    } while (more.at(-1) && more.length < 10);
    expect(more).toEqual([true, true, false]);
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(new Set(pagers.map((p) => p.id)));
  });

  it("leaves out users who blocked the viewer, but not for others", async () => {
    const [blocker, blocked, bystander] = await registerUsers(server.url, ["blocker", "blocked", "bystander"]);
    await block(blocker, blocked.id);
    expect(await searchIds(bystander, blocker.username)).toContain(blocker.id);
    expect(await searchIds(blocked, blocker.username)).not.toContain(blocker.id);
  });
});
