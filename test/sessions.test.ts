/**
 * Sessions (issue 3): mySessions, revokeSession, and what ending a session does
 * at once: its access token stops working over HTTP and its open graphql-ws
 * sockets are closed with 4403 (revokeSession, logout, refresh-token reuse),
 * also when the socket is on another node.
 */
import { describe, expect, it } from "vitest";
import { errorCode, gql, gqlOk, registerUser, type TestUser } from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { useTestServer } from "./helpers/server.js";
import { closeCode, expectStillOpen, openSocket } from "./helpers/sockets.js";

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken user { id } } }`;
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }`;
const SESSIONS = `{ mySessions { id deviceId deviceType createdAt lastUsedAt expiresAt current } }`;
const REVOKE = `mutation($id: ID!) { revokeSession(id: $id) }`;
const CLOSE_FORBIDDEN = 4403;

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/** Logs `user` in again (a new session) from the given device. */
const login = (url: string, user: TestUser, device: { deviceId?: string; deviceType?: string } = {}): Promise<Tokens> =>
  gqlOk(url, LOGIN, { input: { username: user.username, password: "correct horse battery", ...device } }, undefined).then((d) => d.login);
const sessions = (url: string, token: string) => gqlOk(url, SESSIONS, {}, token).then((d) => d.mySessions);
/** The id of the session `token` belongs to, as mySessions reports it. */
const sessionIdOf = async (url: string, token: string): Promise<string> => (await sessions(url, token)).find((s: any) => s.current).id;
/** Whether `token` is still accepted over HTTP (mySessions needs a live session). */
const httpCode = async (url: string, token: string) => errorCode(await gql(url, SESSIONS, {}, token));

describe("sessions on one node", () => {
  const { server, api } = useTestServer([]);

  describe("mySessions", () => {
    it("lists each login with its device, newest first, with current true only for the caller's", async () => {
      const user = await registerUser(server.url, "devices");
      const web = await login(server.url, user, { deviceId: "web_abc", deviceType: "WEB" });
      const phone = await login(server.url, user, { deviceId: "ios_123", deviceType: "MOBILE" });
      const listed = await sessions(server.url, web.accessToken);
      expect(listed.map((s: any) => ({ deviceId: s.deviceId, deviceType: s.deviceType, current: s.current }))).toEqual([
        { deviceId: "ios_123", deviceType: "MOBILE", current: false },
        { deviceId: "web_abc", deviceType: "WEB", current: true },
        { deviceId: null, deviceType: null, current: false },
      ]);
      expect(new Set(listed.map((s: any) => s.id)).size).toBe(3);
      expect((await sessions(server.url, phone.accessToken)).map((s: any) => s.current)).toEqual([true, false, false]);
      const [newest] = listed;
      expect(new Date(newest.expiresAt).getTime()).toBeGreaterThan(Date.now());
      expect(new Date(newest.lastUsedAt).getTime()).toBeGreaterThanOrEqual(new Date(newest.createdAt).getTime());
    });

    it("leaves out ended sessions", async () => {
      const user = await registerUser(server.url, "ended");
      const other = await login(server.url, user, { deviceId: "gone" });
      await gqlOk(server.url, `mutation { logout }`, {}, other.accessToken);
      expect((await sessions(server.url, user.accessToken)).map((s: any) => s.deviceId)).toEqual([null]);
    });

    it("needs a logged-in user", async () => {
      expect(errorCode(await gql(server.url, SESSIONS))).toBe("UNAUTHENTICATED");
    });
  });

  describe("revokeSession", () => {
    it("ends another own session at once: its token is refused over HTTP and its socket closed with 4403, the caller's stays open", async () => {
      const user = await registerUser(server.url, "revoker");
      const victim = await login(server.url, user, { deviceId: "lost_phone", deviceType: "MOBILE" });
      const [victimSocket, ownSocket] = await Promise.all([
        openSocket(server.wsUrl, victim.accessToken),
        openSocket(server.wsUrl, user.accessToken),
      ]);
      const victimId = await sessionIdOf(server.url, victim.accessToken);

      expect((await api.ok(user, REVOKE, { id: victimId })).revokeSession).toBe(true);
      expect(await httpCode(server.url, victim.accessToken)).toBe("UNAUTHENTICATED");
      expect(errorCode(await gql(server.url, REFRESH, { t: victim.refreshToken }))).toBe("UNAUTHENTICATED");
      expect(await closeCode(victimSocket)).toBe(CLOSE_FORBIDDEN);
      await expectStillOpen(server.url, ownSocket, user, user.accessToken);
      expect((await sessions(server.url, user.accessToken)).map((s: any) => s.id)).not.toContain(victimId);
      await ownSocket.client.dispose();
    });

    it("answers NOT_FOUND for someone else's session, which keeps working", async () => {
      const [owner, intruder] = await Promise.all([registerUser(server.url, "owner"), registerUser(server.url, "intruder")]);
      const ownerSession = await sessionIdOf(server.url, owner.accessToken);
      expect(errorCode(await api.run(intruder, REVOKE, { id: ownerSession }))).toBe("NOT_FOUND");
      expect(errorCode(await api.run(intruder, REVOKE, { id: "00000000-0000-4000-8000-000000000000" }))).toBe("NOT_FOUND");
      expect(await httpCode(server.url, owner.accessToken)).toBeUndefined();
    });

    it("refuses a malformed id with BAD_USER_INPUT on id, and needs a logged-in user", async () => {
      const user = await registerUser(server.url, "malformed");
      expect((await api.run(user, REVOKE, { id: "nope" })).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "id" });
      expect(errorCode(await gql(server.url, REVOKE, { id: "00000000-0000-4000-8000-000000000000" }))).toBe("UNAUTHENTICATED");
    });
  });

  describe("logout", () => {
    it("closes the session's sockets with 4403, and only that session's", async () => {
      const user = await registerUser(server.url, "leaver");
      const other = await login(server.url, user, { deviceId: "desk", deviceType: "DESKTOP" });
      const [leaving, staying] = await Promise.all([
        openSocket(server.wsUrl, user.accessToken),
        openSocket(server.wsUrl, other.accessToken),
      ]);
      await api.ok(user, `mutation { logout }`, {});
      expect(await closeCode(leaving)).toBe(CLOSE_FORBIDDEN);
      await expectStillOpen(server.url, staying, user, other.accessToken);
      await staying.client.dispose();
    });
  });

  describe("refresh-token reuse", () => {
    it("revokes the session: the newest tokens stop working and its socket is closed with 4403", async () => {
      const user = await registerUser(server.url, "reuse");
      const rotated: Tokens = (await gqlOk(server.url, REFRESH, { t: user.refreshToken })).refreshToken;
      const socket = await openSocket(server.wsUrl, rotated.accessToken);
      expect(await httpCode(server.url, rotated.accessToken)).toBeUndefined();

      expect(errorCode(await gql(server.url, REFRESH, { t: user.refreshToken }))).toBe("UNAUTHENTICATED");
      expect(await closeCode(socket)).toBe(CLOSE_FORBIDDEN);
      expect(await httpCode(server.url, rotated.accessToken)).toBe("UNAUTHENTICATED");
      expect(errorCode(await gql(server.url, REFRESH, { t: rotated.refreshToken }))).toBe("UNAUTHENTICATED");
    });
  });
});

describe("sessions across two nodes sharing PostgreSQL and Redis", () => {
  const {
    nodes: [a, b],
  } = useNodes(2);

  it("closes a socket on node A with 4403 when its session is revoked through node B", async () => {
    const user = await registerUser(a.url, "across");
    const phone = await login(a.url, user, { deviceId: "phone", deviceType: "MOBILE" });
    const socket = await openSocket(a.wsUrl, phone.accessToken);
    const phoneSession = await sessionIdOf(a.url, phone.accessToken);
    expect((await gqlOk(b.url, REVOKE, { id: phoneSession }, user.accessToken)).revokeSession).toBe(true);
    expect(await closeCode(socket)).toBe(CLOSE_FORBIDDEN);
    expect(await httpCode(a.url, phone.accessToken)).toBe("UNAUTHENTICATED");
  });
});
