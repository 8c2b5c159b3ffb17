import { describe, expect, it } from "vitest";
import { errorCode, gql, gqlOk, registerUser } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const { server, api } = useTestServer([]);

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken expiresAt user { id username email displayName } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken user { id } } }`;
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }`;
const ME = `{ me { id username email } }`;

const input = (over: Record<string, unknown> = {}) => ({
  username: "Ada_Lovelace",
  email: "Ada@Example.com",
  password: "analytical engine",
  firstName: "Ada",
  lastName: "Lovelace",
  ...over,
});

describe("register", () => {
  it("creates the account, logs it in, and normalises username and email", async () => {
    const data = await gqlOk(server.url, REGISTER, { input: input() });
    expect(data.register.user).toMatchObject({ username: "ada_lovelace", email: "ada@example.com", displayName: "Ada Lovelace" });
    expect(new Date(data.register.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const me = await gqlOk(server.url, ME, {}, data.register.accessToken);
    expect(me.me).toMatchObject({ id: data.register.user.id, email: "ada@example.com" });
  });

  it("refuses a taken username or email with BAD_USER_INPUT naming the field", async () => {
    const byName = await gql(server.url, REGISTER, { input: input({ email: "other@example.com" }) });
    expect(byName.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.username" });
    expect(byName.errors?.[0]?.message).toBe("Username is already taken");
    const byEmail = await gql(server.url, REGISTER, { input: input({ username: "someone_else" }) });
    expect(byEmail.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.email" });
  });

  it.each([
    ["username", "ab"],
    ["username", "has space"],
    ["email", "not-an-email"],
    ["password", "short"],
    ["firstName", "   "],
    ["phoneNumber", "12345"],
  ])("refuses a bad %s with BAD_USER_INPUT and writes nothing", async (field, value) => {
    const result = await gql(server.url, REGISTER, {
      input: input({ username: "fresh_name", email: "fresh@example.com", [field]: value }),
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: `input.${field}` });
    expect(await server.app.db.user.count({ where: { username: "fresh_name" } })).toBe(0);
  });
});

describe("login", () => {
  it("accepts email or username, case-insensitively", async () => {
    const byEmail = await gqlOk(server.url, LOGIN, {
      input: { email: "ADA@example.com", password: "analytical engine", deviceType: "WEB" },
    });
    const byName = await gqlOk(server.url, LOGIN, { input: { username: "ada_lovelace", password: "analytical engine" } });
    expect(byEmail.login.user.id).toBe(byName.login.user.id);
  });

  it("answers a wrong password and an unknown user alike with UNAUTHENTICATED", async () => {
    const wrong = await gql(server.url, LOGIN, { input: { username: "ada_lovelace", password: "wrong password" } });
    const unknown = await gql(server.url, LOGIN, { input: { username: "nobody_here", password: "wrong password" } });
    expect(errorCode(wrong)).toBe("UNAUTHENTICATED");
    expect(unknown.errors?.[0]?.message).toBe(wrong.errors?.[0]?.message);
  });

  it("needs exactly one of email and username", async () => {
    const neither = await gql(server.url, LOGIN, { input: { password: "analytical engine" } });
    expect(neither.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.email" });
  });
});

describe("refreshToken", () => {
  it("rotates: the new pair works, the old refresh token does not", async () => {
    const user = await registerUser(server.url, "rot");
    const { refreshToken: first } = await gqlOk(server.url, REFRESH, { t: user.refreshToken });
    expect(first.refreshToken).not.toBe(user.refreshToken);
    expect((await api.ok(first, ME, {})).me.id).toBe(user.id);
    const { refreshToken: second } = await gqlOk(server.url, REFRESH, { t: first.refreshToken });
    expect(second.accessToken).toBeTruthy();
  });

  it("revokes the session when a rotated refresh token is used again", async () => {
    const user = await registerUser(server.url, "reuse");
    const { refreshToken: rotated } = await gqlOk(server.url, REFRESH, { t: user.refreshToken });
    const replay = await gql(server.url, REFRESH, { t: user.refreshToken });
    expect(errorCode(replay)).toBe("UNAUTHENTICATED");
    // the legitimate holder's tokens are dead too: the session is revoked
    expect(errorCode(await gql(server.url, REFRESH, { t: rotated.refreshToken }))).toBe("UNAUTHENTICATED");
    expect(errorCode(await api.run(rotated, ME, {}))).toBe("UNAUTHENTICATED");
  });

  it("refuses garbage with UNAUTHENTICATED", async () => {
    expect(errorCode(await gql(server.url, REFRESH, { t: "not-a-token" }))).toBe("UNAUTHENTICATED");
  });

  it("me: null without a token; UNAUTHENTICATED with a garbage one (so clients refresh)", async () => {
    expect(await gql(server.url, ME)).toEqual({ data: { me: null } });
    const refused = await gql(server.url, ME, {}, "not-a-token");
    expect(errorCode(refused)).toBe("UNAUTHENTICATED");
    expect(refused.data).toEqual({ me: null });
  });
});

describe("logout", () => {
  it("ends only the current session, at once", async () => {
    const user = await registerUser(server.url, "bye");
    const other = await gqlOk(server.url, LOGIN, { input: { username: user.username, password: "correct horse battery" } });
    expect((await api.ok(user, `mutation { logout }`, {})).logout).toBe(true);
    expect(errorCode(await api.run(user, ME, {}))).toBe("UNAUTHENTICATED");
    expect(errorCode(await api.run(user, `mutation { logout }`, {}))).toBe("UNAUTHENTICATED");
    expect(errorCode(await gql(server.url, REFRESH, { t: user.refreshToken }))).toBe("UNAUTHENTICATED");
    expect((await gqlOk(server.url, ME, {}, other.login.accessToken)).me.id).toBe(user.id);
  });

  it("needs a token", async () => {
    expect(errorCode(await gql(server.url, `mutation { logout }`))).toBe("UNAUTHENTICATED");
  });
});

describe("privacy", () => {
  it("shows email only to its owner", async () => {
    const a = await registerUser(server.url, "pa");
    const b = await registerUser(server.url, "pb");
    const room = await api.ok(a, `mutation($id: ID!) { directRoom(userId: $id) { members { user { id email } } } }`, { id: b.id });
    const emails = Object.fromEntries(room.directRoom.members.map((m: any) => [m.user.id, m.user.email]));
    expect(emails[a.id]).toContain("@example.com");
    expect(emails[b.id]).toBeNull();
  });
});
