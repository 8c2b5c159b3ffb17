import { randomSecret, sha256 } from "../auth/tokens.js";
import type { Db } from "../db/client.js";
import type { AccountTokenPurpose } from "../generated/prisma/enums.js";

/** What spending a token proves: whose it is, and for EMAIL_VERIFICATION the address it was mailed to. */
export interface SpentToken {
  userId: string;
  email: string | null;
}

/**
 * Single-use tokens mailed to users (the AccountToken table): a 256-bit random
 * secret, of which only the hex SHA-256 is stored, so a database leak gives no
 * usable link. A token is spent by one atomic UPDATE (usedAt set where it is
 * null and expiresAt is ahead), so two requests racing with the same token
 * cannot both succeed.
 */
export const accountTokens = {
  /**
   * Stores a new token of `userId` for `purpose`, valid `ttlS` seconds; for
   * EMAIL_VERIFICATION `email` is the address it is mailed to. Resolves the
   * secret to mail. Deletes the user's spent and expired tokens of `purpose`.
   */
  async issue(db: Db, userId: string, purpose: AccountTokenPurpose, ttlS: number, email: string | null = null): Promise<string> {
    const secret = randomSecret();
    const now = new Date();
    // the user's dead tokens go, so rows stay bounded by the rate limits on issuing
    await db.accountToken.deleteMany({ where: { userId, purpose, OR: [{ usedAt: { not: null } }, { expiresAt: { lte: now } }] } });
    await db.accountToken.create({
      data: { userId, purpose, email, tokenHash: sha256(secret), createdAt: now, expiresAt: new Date(now.getTime() + ttlS * 1000) },
    });
    return secret;
  },

  /** Spends `secret` for `purpose`; null when it is unknown, of another purpose, spent or expired. */
  async spend(db: Db, secret: string, purpose: AccountTokenPurpose): Promise<SpentToken | null> {
    const now = new Date();
    const [spent] = await db.accountToken.updateManyAndReturn({
      where: { tokenHash: sha256(secret), purpose, usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now },
      select: { userId: true, email: true },
    });
    return spent ?? null;
  },

  /** Spends every live token of `userId` for `purpose` (a new password kills the reset links still in mailboxes). */
  async spendAll(db: Db, userId: string, purpose: AccountTokenPurpose): Promise<void> {
    await db.accountToken.updateMany({ where: { userId, purpose, usedAt: null }, data: { usedAt: new Date() } });
  },
};
