/**
 * Account lifecycle (issue 16): changePassword, the password-reset flow,
 * email verification on register and on changeEmail. Mails go over real SMTP
 * to a receiver in this process (smtp-server); the tests read them, take the
 * link's token and follow it through GraphQL over HTTP, and check sockets of
 * ended sessions close with 4403 while the caller's stays open.
 */
import { createHash } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeMailer } from "../src/mail/mailer.js";
import { errorCode, ext, gql, gqlOk, registerUser, TEST_PASSWORD, type TestUser } from "./helpers/client.js";
import { useNodes } from "./helpers/nodes.js";
import { logCapture, startTestServer, useTestServer } from "./helpers/server.js";
import { type SmtpReceiver, startSmtpReceiver, tokenIn } from "./helpers/smtp.js";
import { closeCode, expectStillOpen, openSocket } from "./helpers/sockets.js";

const APP_URL = "https://chat.example.test";
const CHANGE_PASSWORD = `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`;
const REQUEST_RESET = `mutation($e: String!) { requestPasswordReset(email: $e) }`;
const RESET = `mutation($t: String!, $n: String!) { resetPassword(token: $t, newPassword: $n) }`;
const VERIFY = `mutation($t: String!) { verifyEmail(token: $t) { id email emailVerified } }`;
const CHANGE_EMAIL = `mutation($e: String!, $c: String!) { changeEmail(email: $e, currentPassword: $c) { email emailVerified } }`;
const LOGIN = `mutation($u: String!, $p: String!) { login(input: { username: $u, password: $p }) { accessToken refreshToken } }`;
const ME = `{ me { id email emailVerified } }`;
const CLOSE_FORBIDDEN = 4403;

const emailOf = (user: TestUser) => `${user.username}@example.com`;
const login = (url: string, user: TestUser, password = TEST_PASSWORD) => gql(url, LOGIN, { u: user.username, p: password });

describe("account lifecycle over SMTP", () => {
  let smtp: SmtpReceiver;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
  });
  afterAll(() => smtp?.close());
  const { server, api } = useTestServer([], () => ({
    env: { SMTP_URL: smtp.url, APP_URL, MAIL_FROM: "Chat <no-reply@chat.example.test>", RATE_LIMIT_PASSWORD_RESET_IP: "1000/600" },
  }));

  /** A new user, its verification mail (sent on register) already taken from the receiver. */
  async function newUser(prefix: string): Promise<TestUser> {
    const user = await registerUser(server.url, prefix);
    await smtp.nextMail(emailOf(user));
    return user;
  }

  describe("email verification", () => {
    it("mails a link on register; following it verifies the address once, and only the user sees emailVerified", async () => {
      const [user, other] = await Promise.all([registerUser(server.url, "verify"), registerUser(server.url, "stranger")]);
      const mail = await smtp.nextMail(emailOf(user));
      expect(mail.from).toBe("no-reply@chat.example.test");
      expect(mail.subject).toBe("Verify your email address");
      expect(mail.text).toContain(`${APP_URL}/verify-email?token=`);
      expect((await api.ok(user, ME, {})).me.emailVerified).toBe(false);

      const token = tokenIn(mail, "/verify-email");
      expect((await gqlOk(server.url, VERIFY, { t: token })).verifyEmail).toEqual({ id: user.id, email: null, emailVerified: null });
      expect((await api.ok(user, ME, {})).me.emailVerified).toBe(true);
      const seen = await api.ok(other, `query($id: ID!) { user(id: $id) { email emailVerified } }`, { id: user.id });
      expect(seen.user).toEqual({ email: null, emailVerified: null });

      expect(ext(await gql(server.url, VERIFY, { t: token }))).toMatchObject({ code: "BAD_USER_INPUT", field: "token" });
    });

    it("refuses a malformed or unknown token with BAD_USER_INPUT on token", async () => {
      expect(ext(await gql(server.url, VERIFY, { t: "nope" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "token" });
      expect(ext(await gql(server.url, VERIFY, { t: "A".repeat(43) }))).toMatchObject({ code: "BAD_USER_INPUT", field: "token" });
    });

    it("requestEmailVerification mails a new link, and none once the address is verified", async () => {
      const user = await registerUser(server.url, "resend");
      const first = tokenIn(await smtp.nextMail(emailOf(user)), "/verify-email");
      await api.ok(user, `mutation { requestEmailVerification }`, {});
      const second = tokenIn(await smtp.nextMail(emailOf(user)), "/verify-email");
      expect(second).not.toBe(first);
      await gqlOk(server.url, VERIFY, { t: second });
      await api.ok(user, `mutation { requestEmailVerification }`, {});
      await server.app.outbox.drain();
      expect(smtp.mails.filter((m) => m.to.includes(emailOf(user)))).toHaveLength(2);
      expect(errorCode(await gql(server.url, `mutation { requestEmailVerification }`))).toBe("UNAUTHENTICATED");
    });
  });

  describe("changeEmail", () => {
    it("makes the new address unverified, mails it a link and the old one a notice; the old address's link no longer verifies", async () => {
      const user = await registerUser(server.url, "mover");
      const oldToken = tokenIn(await smtp.nextMail(emailOf(user)), "/verify-email");
      const newEmail = `new_${user.username}@example.org`;

      const changed = await api.ok(user, CHANGE_EMAIL, { e: newEmail.toUpperCase(), c: TEST_PASSWORD });
      expect(changed.changeEmail).toEqual({ email: newEmail, emailVerified: false });
      const notice = await smtp.nextMail(emailOf(user));
      expect(notice.subject).toBe("Your email address was changed");
      expect(notice.text).not.toContain("token=");
      const newToken = tokenIn(await smtp.nextMail(newEmail), "/verify-email");

      expect(ext(await gql(server.url, VERIFY, { t: oldToken }))).toMatchObject({ code: "BAD_USER_INPUT", field: "token" });
      expect((await api.ok(user, ME, {})).me).toMatchObject({ email: newEmail, emailVerified: false });
      await gqlOk(server.url, VERIFY, { t: newToken });
      expect((await api.ok(user, ME, {})).me).toMatchObject({ email: newEmail, emailVerified: true });
    });

    it("refuses a wrong password (currentPassword) and an address another account has (email), changing nothing", async () => {
      const [user, other] = await Promise.all([newUser("keeper"), newUser("owner")]);
      expect(ext(await api.run(user, CHANGE_EMAIL, { e: "x@example.org", c: "wrong password" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "currentPassword",
      });
      expect(ext(await api.run(user, CHANGE_EMAIL, { e: emailOf(other), c: TEST_PASSWORD }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "email",
      });
      expect(ext(await api.run(user, CHANGE_EMAIL, { e: "not an address", c: TEST_PASSWORD }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "email",
      });
      expect((await api.ok(user, ME, {})).me.email).toBe(emailOf(user));
      await server.app.outbox.drain();
      expect(smtp.mails.filter((m) => m.to.includes("x@example.org"))).toHaveLength(0);
    });
  });

  describe("changePassword", () => {
    it("ends every other session (its socket closed with 4403) and keeps the caller's", async () => {
      const user = await newUser("changer");
      const other = (await login(server.url, user)).data!.login;
      const [otherSocket, ownSocket] = await Promise.all([
        openSocket(server.wsUrl, other.accessToken),
        openSocket(server.wsUrl, user.accessToken),
      ]);

      expect((await api.ok(user, CHANGE_PASSWORD, { c: TEST_PASSWORD, n: "a brand new secret" })).changePassword).toBe(true);
      expect(await closeCode(otherSocket)).toBe(CLOSE_FORBIDDEN);
      expect(errorCode(await api.run(other, ME, {}))).toBe("UNAUTHENTICATED");
      expect(
        errorCode(
          await gql(server.url, `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`, { t: other.refreshToken }),
        ),
      ).toBe("UNAUTHENTICATED");
      await expectStillOpen(server.url, ownSocket, user, user.accessToken);
      expect(errorCode(await api.run(user, ME, {}))).toBeUndefined();

      expect(errorCode(await login(server.url, user))).toBe("UNAUTHENTICATED");
      expect(errorCode(await login(server.url, user, "a brand new secret"))).toBeUndefined();
      await ownSocket.client.dispose();
    });

    it("refuses a wrong current password with BAD_USER_INPUT on currentPassword and a short new one on newPassword, ending nothing", async () => {
      const user = await newUser("wrong");
      const other = (await login(server.url, user)).data!.login;
      expect(ext(await api.run(user, CHANGE_PASSWORD, { c: "not my password", n: "a brand new secret" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "currentPassword",
      });
      expect(ext(await api.run(user, CHANGE_PASSWORD, { c: TEST_PASSWORD, n: "short" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "newPassword",
      });
      expect(errorCode(await api.run(other, ME, {}))).toBeUndefined();
      expect(errorCode(await login(server.url, user))).toBeUndefined();
      expect(errorCode(await gql(server.url, CHANGE_PASSWORD, { c: TEST_PASSWORD, n: "a brand new secret" }))).toBe("UNAUTHENTICATED");
    });

    it("makes reset links already mailed stop working", async () => {
      const user = await newUser("stale");
      await gqlOk(server.url, REQUEST_RESET, { e: emailOf(user) });
      const token = tokenIn(await smtp.nextMail(emailOf(user)), "/reset-password");
      await api.ok(user, CHANGE_PASSWORD, { c: TEST_PASSWORD, n: "a brand new secret" });
      expect(ext(await gql(server.url, RESET, { t: token, n: "yet another secret" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "token",
      });
    });
  });

  describe("password reset", () => {
    it("mails a single-use link; resetting sets the password and ends every session, sockets closed with 4403", async () => {
      const user = await newUser("forgetful");
      const phone = (await login(server.url, user)).data!.login;
      const [socket, phoneSocket] = await Promise.all([
        openSocket(server.wsUrl, user.accessToken),
        openSocket(server.wsUrl, phone.accessToken),
      ]);

      expect(await gqlOk(server.url, REQUEST_RESET, { e: ` ${emailOf(user).toUpperCase()} ` })).toEqual({ requestPasswordReset: true });
      const mail = await smtp.nextMail(emailOf(user));
      expect(mail.subject).toBe("Reset your password");
      expect(mail.text).toContain("within 30 minutes");
      const token = tokenIn(mail, "/reset-password");

      expect(await gqlOk(server.url, RESET, { t: token, n: "remembered at last" })).toEqual({ resetPassword: true });
      expect(await closeCode(socket)).toBe(CLOSE_FORBIDDEN);
      expect(await closeCode(phoneSocket)).toBe(CLOSE_FORBIDDEN);
      for (const accessToken of [user.accessToken, phone.accessToken])
        expect(errorCode(await gql(server.url, ME, {}, accessToken))).toBe("UNAUTHENTICATED");
      expect(errorCode(await login(server.url, user))).toBe("UNAUTHENTICATED");
      expect(errorCode(await login(server.url, user, "remembered at last"))).toBeUndefined();

      // single use
      expect(ext(await gql(server.url, RESET, { t: token, n: "someone else's choice" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "token",
      });
      expect(errorCode(await login(server.url, user, "remembered at last"))).toBeUndefined();
    });

    it("stores only the token's SHA-256, valid 30 minutes; an expired token is BAD_USER_INPUT on token and changes nothing", async () => {
      const user = await newUser("late");
      await gqlOk(server.url, REQUEST_RESET, { e: emailOf(user) });
      const token = tokenIn(await smtp.nextMail(emailOf(user)), "/reset-password");
      const [row] = await server.app.db.accountToken.findMany({ where: { userId: user.id, purpose: "PASSWORD_RESET" } });
      expect(row!.tokenHash).toBe(createHash("sha256").update(token).digest("hex"));
      expect(JSON.stringify(row)).not.toContain(token);
      expect(row!.expiresAt.getTime() - row!.createdAt.getTime()).toBe(30 * 60 * 1000);

      await server.app.db.accountToken.update({ where: { id: row!.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      expect(ext(await gql(server.url, RESET, { t: token, n: "too late for this" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "token",
      });
      expect(errorCode(await login(server.url, user))).toBeUndefined();
      expect(errorCode(await api.run(user, ME, {}))).toBeUndefined();
    });

    it("makes a link mailed before deleteAccount stop working: the deleted account cannot be taken back", async () => {
      const user = await newUser("leaver");
      await gqlOk(server.url, REQUEST_RESET, { e: emailOf(user) });
      const token = tokenIn(await smtp.nextMail(emailOf(user)), "/reset-password");
      await api.ok(user, `mutation($p: String!) { deleteAccount(password: $p) }`, { p: TEST_PASSWORD });
      expect(ext(await gql(server.url, RESET, { t: token, n: "taking it back now" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "token",
      });
      expect(await server.app.db.accountToken.count({ where: { userId: user.id } })).toBe(0);
    });

    it("lets only one of two concurrent resets with the same token through", async () => {
      const user = await newUser("racer");
      await gqlOk(server.url, REQUEST_RESET, { e: emailOf(user) });
      const token = tokenIn(await smtp.nextMail(emailOf(user)), "/reset-password");
      const results = await Promise.all(["first racer wins", "second racer wins"].map((n) => gql(server.url, RESET, { t: token, n })));
      expect(results.map((r) => r.data?.resetPassword ?? errorCode(r)).sort()).toEqual(["BAD_USER_INPUT", true]);
      const winner = results.findIndex((r) => r.data?.resetPassword);
      expect(errorCode(await login(server.url, user, ["first racer wins", "second racer wins"][winner]))).toBeUndefined();
    });

    it("refuses a malformed token and a short new password with BAD_USER_INPUT on the argument", async () => {
      expect(ext(await gql(server.url, RESET, { t: "x".repeat(10), n: "long enough password" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "token",
      });
      expect(ext(await gql(server.url, RESET, { t: "A".repeat(43), n: "short" }))).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "newPassword",
      });
    });

    it("answers an unknown address exactly as a known one, and mails nothing", async () => {
      const user = await newUser("known");
      const unknown = `nobody_${user.username}@example.com`;
      const known = await gql(server.url, REQUEST_RESET, { e: emailOf(user) });
      const none = await gql(server.url, REQUEST_RESET, { e: unknown });
      expect(none).toEqual(known);
      expect(none).toEqual({ data: { requestPasswordReset: true } });
      await smtp.nextMail(emailOf(user));
      await server.app.outbox.drain();
      expect(smtp.mails.filter((m) => m.to.includes(unknown))).toHaveLength(0);
    });

    it("is rate limited per address (3 an hour by default), known or not, with RATE_LIMITED and retryAfter", async () => {
      const user = await newUser("limited");
      for (const email of [emailOf(user), `ghost_${user.username}@example.com`]) {
        for (let i = 0; i < 3; i++) expect(errorCode(await gql(server.url, REQUEST_RESET, { e: email }))).toBeUndefined();
        const refused = await gql(server.url, REQUEST_RESET, { e: email.toUpperCase() });
        expect(ext(refused)).toMatchObject({ code: "RATE_LIMITED" });
        expect(ext(refused)!.retryAfter).toBeGreaterThan(3000);
      }
      await server.app.outbox.drain();
      expect(smtp.mails.filter((m) => m.to.includes(emailOf(user)) && m.subject === "Reset your password")).toHaveLength(3);
    });
  });
});

describe("across two nodes sharing PostgreSQL and Redis", () => {
  let smtp: SmtpReceiver;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
  });
  afterAll(() => smtp?.close());
  const {
    nodes: [a, b],
  } = useNodes(2, () => ({ SMTP_URL: smtp.url, APP_URL }));

  it("closes sockets on node A with 4403 when the password is changed, then reset, through node B", async () => {
    const user = await registerUser(a.url, "nodes");
    await smtp.nextMail(emailOf(user));
    const phone = (await login(a.url, user)).data!.login;
    const phoneSocket = await openSocket(a.wsUrl, phone.accessToken);
    await gqlOk(b.url, CHANGE_PASSWORD, { c: TEST_PASSWORD, n: "changed on node b" }, user.accessToken);
    expect(await closeCode(phoneSocket)).toBe(CLOSE_FORBIDDEN);

    const ownSocket = await openSocket(a.wsUrl, user.accessToken);
    await gqlOk(a.url, REQUEST_RESET, { e: emailOf(user) });
    const token = tokenIn(await smtp.nextMail(emailOf(user)), "/reset-password");
    await gqlOk(b.url, RESET, { t: token, n: "reset on node b" });
    expect(await closeCode(ownSocket)).toBe(CLOSE_FORBIDDEN);
    expect(errorCode(await gql(a.url, ME, {}, user.accessToken))).toBe("UNAUTHENTICATED");
  });
});

describe("password reset rate limit per client IP", () => {
  const { server } = useTestServer([], { env: { RATE_LIMIT_PASSWORD_RESET_IP: "2/600" } });

  it("refuses the third request from one IP, whatever the address", async () => {
    expect(errorCode(await gql(server.url, REQUEST_RESET, { e: "a@example.com" }))).toBeUndefined();
    expect(errorCode(await gql(server.url, REQUEST_RESET, { e: "b@example.com" }))).toBeUndefined();
    expect(ext(await gql(server.url, REQUEST_RESET, { e: "c@example.com" }))).toMatchObject({ code: "RATE_LIMITED" });
  });
});

describe("mail without SMTP_URL", () => {
  it("outside production logs the mail with its link, which works", async () => {
    const { sink, lines } = logCapture();
    const server = await startTestServer({ logTo: sink });
    try {
      const user = await registerUser(server.url, "devmail");
      await server.app.outbox.drain();
      const line = lines.find(
        (l) => l.msg === "mail not sent (SMTP_URL is unset): logged instead" && (l.mail as { to: string }).to === emailOf(user),
      );
      const text = (line!.mail as { text: string }).text;
      const token = /\/verify-email\?token=([\w-]+)/.exec(text)![1]!;
      expect((await gqlOk(server.url, VERIFY, { t: token })).verifyEmail.id).toBe(user.id);
    } finally {
      await server.close();
    }
  });

  it("in production drops mails with a warning at start and per mail, never logging the link", async () => {
    const { sink, lines } = logCapture();
    const mailer = makeMailer({ NODE_ENV: "production", MAIL_FROM: "x <x@example.com>" }, pino(sink));
    await mailer.send({
      to: "a@example.com",
      subject: "Reset your password",
      text: "https://chat.example.com/reset-password?token=secret",
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, "SMTP_URL is unset: account mails (password reset, email verification) are dropped, not sent"],
      [40, "mail dropped: SMTP_URL is unset"],
    ]);
    expect(JSON.stringify(lines)).not.toContain("token=");
  });
});
