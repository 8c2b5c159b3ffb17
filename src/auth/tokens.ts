import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

const ISSUER = "chat-graphql";
const AUDIENCE = "chat-graphql:api";
const ALGORITHM = "HS256";

/** What an access token proves: the user (`sub`) and the session (`sid`) it belongs to. */
export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/** Signs and verifies access tokens (JWT, HS256, with issuer and audience checked). */
export class AccessTokens {
  /** The HMAC key, imported once: jose imports a raw Uint8Array key anew on every call. */
  private readonly key: Promise<CryptoKey>;

  /** `secret` is the JWT_SECRET; `ttlS` the token lifetime in seconds. */
  constructor(
    secret: string,
    readonly ttlS: number,
  ) {
    this.key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
  }

  /** Returns the compact JWT and its expiry. */
  async sign(claims: AccessClaims, now = new Date()): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(now.getTime() + this.ttlS * 1000);
    const token = await new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(await this.key);
    return { token, expiresAt };
  }

  /**
   * Checks signature, algorithm, issuer, audience and expiry.
   * @returns the claims and when the token expires (`expiresAtMs`, epoch ms), or null for any bad or expired token (never throws).
   */
  async verify(token: string): Promise<(AccessClaims & { expiresAtMs: number }) | null> {
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["exp"],
      });
      if (typeof payload.sub !== "string" || typeof payload.sid !== "string") return null;
      return { userId: payload.sub, sessionId: payload.sid, expiresAtMs: payload.exp! * 1000 };
    } catch {
      return null;
    }
  }
}

/**
 * Refresh tokens are opaque: `<sessionId>.<256-bit random secret>`. Only the
 * secret's SHA-256 is stored, so a database leak does not leak usable tokens.
 */
export const refreshTokens = {
  /** A fresh token for `sessionId` and the hash to store. */
  issue(sessionId: string): { token: string; hash: string } {
    const secret = randomSecret();
    return { token: `${sessionId}.${secret}`, hash: sha256(secret) };
  },
  /** Splits a token into its session id and secret; null when malformed. */
  parse(token: string): { sessionId: string; secret: string } | null {
    const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(token);
    return match ? { sessionId: match[1]!, secret: match[2]! } : null;
  },
  /** Constant-time comparison of a presented secret with a stored hash. */
  matches(secret: string, hash: string): boolean {
    const a = Buffer.from(sha256(secret), "hex");
    const b = Buffer.from(hash, "hex");
    return a.length === b.length && timingSafeEqual(a, b);
  },
};

/** A fresh 256-bit random secret, base64url (43 characters of A–Z, a–z, 0–9, '-', '_'). */
export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Hex SHA-256 of `value`: what is stored of a secret. */
export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}
