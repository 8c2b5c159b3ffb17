import { randomUUID } from "node:crypto";
import type { Db, PrismaClient } from "../db/client.js";
import { isUniqueViolation } from "../db/errors.js";
import { badInput, notFound, unauthenticated } from "../errors.js";
import type { User } from "../generated/prisma/client.js";
import type { EventLog } from "../realtime/event-log.js";
import { dummyHash, hashPassword, verifyPassword } from "./passwords.js";
import type { SessionCache } from "./session-cache.js";
import { type AccessTokens, refreshTokens } from "./tokens.js";

/** Who is calling: the user and the session (device) their access token belongs to. */
export interface Viewer {
  userId: string;
  sessionId: string;
}

/** What register, login and refreshToken return (GraphQL `AuthPayload`). */
export interface AuthResult {
  /** The session the tokens belong to. */
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  /** When the access token expires. */
  expiresAt: Date;
  user: User;
}

export interface RegisterInput {
  username: string;
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  phoneNumber?: string | null;
  bio?: string | null;
}

export interface LoginInput {
  /** Email address or username. */
  login: string;
  password: string;
  deviceId?: string | null;
  deviceType?: string | null;
}

/**
 * Accounts and sessions: one Session row per logged-in device, holding the hash of
 * its current refresh token. Access tokens are short-lived JWTs naming the session,
 * and every request checks that the session is still live, so logout takes effect at once.
 * Ending a session (logout, revokeSession, refresh-token reuse, a password
 * change or reset: account/accounts.ts) deletes its push subscriptions with it, and is also published,
 * so every node closes that session's open WebSockets and drops its tokens from
 * its {@link SessionCache} (this node's at once, before answering).
 */
export class Sessions {
  constructor(
    private readonly db: PrismaClient,
    private readonly tokens: AccessTokens,
    /** Refresh-token (session) lifetime in seconds. */
    private readonly refreshTtlS: number,
    private readonly events: EventLog,
    private readonly cache: SessionCache,
  ) {}

  /**
   * Creates the account and logs it in: registering returns tokens, as logging in does.
   * @throws BAD_USER_INPUT on `input.username` / `input.email` when taken.
   */
  async register(input: RegisterInput): Promise<AuthResult> {
    const taken = await this.db.user.findFirst({
      where: { OR: [{ username: input.username }, { email: input.email }] },
      select: { username: true },
    });
    if (taken) throw takenError(taken.username === input.username ? "username" : "email");
    const passwordHash = await hashPassword(input.password);
    const { password: _, ...profile } = input;
    const user = await this.db.user.create({ data: { ...profile, passwordHash } }).catch((e: unknown) => {
      // a concurrent register won the race for the same name
      if (isUniqueViolation(e, "email")) throw takenError("email");
      if (isUniqueViolation(e, "username")) throw takenError("username");
      throw e;
    });
    return this.openSession(user, {});
  }

  /**
   * Logs in by email or username.
   * @throws UNAUTHENTICATED "Invalid credentials" for an unknown login or a wrong
   * password alike (no account enumeration).
   */
  async login(input: LoginInput): Promise<AuthResult> {
    const login = input.login.trim().toLowerCase();
    const user = await this.db.user.findFirst({ where: login.includes("@") ? { email: login } : { username: login } });
    const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash), input.password);
    if (!user || !ok) throw unauthenticated("Invalid credentials");
    return this.openSession(user, input);
  }

  /**
   * Rotates the refresh token: the presented one stops working and a new pair is
   * returned. Presenting an already-rotated token revokes the whole session
   * (reuse detection, OAuth 2.0 Security BCP §4.14).
   * @throws UNAUTHENTICATED for an unknown, rotated, revoked or expired token.
   */
  async refresh(token: string): Promise<AuthResult> {
    const parsed = refreshTokens.parse(token);
    const session = parsed && (await this.db.session.findUnique({ where: { id: parsed.sessionId }, include: { user: true } }));
    if (!parsed || !session || session.revokedAt || session.expiresAt <= new Date()) {
      throw unauthenticated("Invalid refresh token");
    }
    if (!refreshTokens.matches(parsed.secret, session.refreshTokenHash)) {
      await this.end(session.id, session.userId);
      throw unauthenticated("Refresh token reused; the session has been revoked");
    }
    const next = refreshTokens.issue(session.id);
    // compare-and-swap on the old hash, so two concurrent refreshes cannot both win
    const { count } = await this.db.session.updateMany({
      where: { id: session.id, refreshTokenHash: session.refreshTokenHash, revokedAt: null },
      data: { refreshTokenHash: next.hash, lastUsedAt: new Date() },
    });
    if (count !== 1) throw unauthenticated("Invalid refresh token");
    const access = await this.tokens.sign({ userId: session.userId, sessionId: session.id });
    return { sessionId: session.id, accessToken: access.token, refreshToken: next.token, expiresAt: access.expiresAt, user: session.user };
  }

  /** Ends the viewer's session: its refresh token and access tokens stop working. */
  async logout(viewer: Viewer): Promise<void> {
    await this.end(viewer.sessionId, viewer.userId);
  }

  /**
   * Ends one of the viewer's live sessions (another device, or this one).
   * @throws NOT_FOUND for an unknown, ended or someone else's session.
   */
  async revoke(viewer: Viewer, sessionId: string): Promise<void> {
    if (!(await this.end(sessionId, viewer.userId))) throw notFound("Session");
  }

  /**
   * Deletes every session of `userId` (live or ended) inside the caller's
   * transaction `tx` (deleteAccount, users/deletion.ts): from its commit on, their
   * tokens are refused. Returns their ids for {@link announceEnded}, to call once `tx` has
   * committed.
   */
  async deleteAllIn(tx: Db, userId: string): Promise<string[]> {
    const rows = await tx.$queryRaw<{ id: string }[]>`DELETE FROM "Session" WHERE "userId" = ${userId}::uuid RETURNING id`;
    return rows.map((r) => r.id);
  }

  /**
   * Marks every live session of `userId` revoked, in `tx` (the caller's
   * transaction, so the sessions end with the change that ends them, e.g. a new
   * password), except `exceptSessionId` when given. Resolves the ended sessions'
   * ids, for {@link announceEnded} once `tx` has committed.
   */
  async endAllIn(tx: Db, userId: string, exceptSessionId?: string): Promise<string[]> {
    const ended = await tx.session.updateManyAndReturn({
      where: { userId, revokedAt: null, ...(exceptSessionId ? { id: { not: exceptSessionId } } : {}) },
      data: { revokedAt: new Date() },
      select: { id: true },
    });
    const ids = ended.map((s) => s.id);
    if (ids.length > 0) await tx.pushSubscription.deleteMany({ where: { sessionId: { in: ids } } });
    return ids;
  }

  /**
   * After the commit that revoked them: drops the sessions' tokens from this
   * node's cache and tells every node, which closes their sockets with 4403.
   */
  async announceEnded(sessionIds: readonly string[]): Promise<void> {
    for (const id of sessionIds) this.cache.revoke(id);
    await Promise.all(sessionIds.map((id) => this.events.sessionRevoked(id)));
  }

  /** Marks the session revoked, deletes its push subscriptions (the device gets no more pushes) and tells every node; resolves false when it was not live. */
  private async end(sessionId: string, userId: string): Promise<boolean> {
    const [{ count }] = await this.db.$transaction([
      this.db.session.updateMany({ where: { id: sessionId, userId, revokedAt: null }, data: { revokedAt: new Date() } }),
      this.db.pushSubscription.deleteMany({ where: { sessionId, userId } }),
    ]);
    this.cache.revoke(sessionId);
    if (count > 0) await this.events.sessionRevoked(sessionId);
    return count > 0;
  }

  /**
   * Resolves an `Authorization` value (`Bearer <accessToken>`) to the viewer:
   * from the {@link SessionCache} when this node checked the token already
   * (unless `fresh`), otherwise by verifying the JWT and reading its session
   * (then cached). A WebSocket's connection_init asks for `fresh`: it runs once
   * per socket, and a socket accepted during a database outage could not set up
   * a subscription anyway, so it is told to retry (1013) instead.
   * @returns null when absent, malformed, expired, or its session has ended.
   * @throws the database's error when the session cannot be read (db/errors.ts isDatabaseUnavailable).
   */
  async authenticate(authorization: string | null | undefined, { fresh = false } = {}): Promise<Viewer | null> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "");
    if (!match) return null;
    const token = match[1]!;
    const now = new Date();
    const cached = fresh ? null : this.cache.get(token, now.getTime());
    if (cached) return cached;
    const checkedAt = this.cache.epoch();
    const claims = await this.tokens.verify(token);
    if (!claims) return null;
    // raw SQL: it runs on every request, and a Prisma call spends CPU in its query compiler (docs/performance.md)
    const [session] = await this.db.$queryRaw<{ expiresAt: Date }[]>`
      SELECT "expiresAt" FROM "Session" WHERE id = ${claims.sessionId}::uuid AND "userId" = ${claims.userId}::uuid
        AND "revokedAt" IS NULL AND "expiresAt" > ${now}`;
    if (!session) return null;
    const viewer: Viewer = { userId: claims.userId, sessionId: claims.sessionId };
    this.cache.set(token, viewer, Math.min(claims.expiresAtMs, session.expiresAt.getTime()), checkedAt);
    return viewer;
  }

  private async openSession(user: User, device: Pick<LoginInput, "deviceId" | "deviceType">): Promise<AuthResult> {
    const id = randomUUID();
    const refresh = refreshTokens.issue(id);
    await this.db.session.create({
      data: {
        id,
        userId: user.id,
        deviceId: device.deviceId ?? null,
        deviceType: device.deviceType ?? null,
        refreshTokenHash: refresh.hash,
        expiresAt: new Date(Date.now() + this.refreshTtlS * 1000),
      },
    });
    const access = await this.tokens.sign({ userId: user.id, sessionId: id });
    return { sessionId: id, accessToken: access.token, refreshToken: refresh.token, expiresAt: access.expiresAt, user };
  }
}

function takenError(field: "username" | "email") {
  return badInput(`input.${field}`, field === "username" ? "Username is already taken" : "Email address is already registered");
}
