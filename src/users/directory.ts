import type { Db, PrismaClient } from "../db/client.js";
import { notFound } from "../errors.js";

/** The display-name expression that the migration's trigram index covers. */
const DISPLAY_NAME = `lower(coalesce(u."displayName", u."firstName" || ' ' || u."lastName"))`;

/**
 * How close a fuzzy match must be: pg_trgm word similarity of the search to
 * the best-matching part of a name (0–1; pg_trgm's default is 0.6, which misses
 * one-letter typos such as "alxander" for "alexander", 0.58).
 */
const WORD_SIMILARITY_THRESHOLD = 0.5;

/**
 * One page of the user directory for `viewerId`: user ids ranked for `search`
 * (prefix matches on username or display name first, then pg_trgm word
 * similarity, then username); all users by username without a search. Never
 * matches on email; users who blocked the viewer and deleted accounts are left out. Both matches use
 * the migration's trigram indexes. `limit`/`offset` come from an offset connection.
 */
export async function searchUserIds(
  db: PrismaClient,
  viewerId: string,
  search: string | null,
  limit: number,
  offset: number,
): Promise<string[]> {
  const q = (search ?? "").trim().toLowerCase();
  const prefix = `${q.replace(/[\\%_]/g, "\\$&")}%`;
  const rows = await db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`SET LOCAL pg_trgm.word_similarity_threshold = ${WORD_SIMILARITY_THRESHOLD}`);
    return tx.$queryRawUnsafe<{ id: string }[]>(
      `SELECT u.id FROM "User" u
       WHERE u."deletedAt" IS NULL AND NOT EXISTS (SELECT 1 FROM "Block" b WHERE b."blockerId" = u.id AND b."blockedId" = $1::uuid)
         AND ($2 = '' OR u.username LIKE $3 OR ${DISPLAY_NAME} LIKE $3 OR $2 <% u.username OR $2 <% ${DISPLAY_NAME})
       ORDER BY (u.username LIKE $3 OR ${DISPLAY_NAME} LIKE $3) DESC,
                greatest(word_similarity($2, u.username), word_similarity($2, ${DISPLAY_NAME})) DESC,
                u.username
       LIMIT $4 OFFSET $5`,
      viewerId,
      q,
      prefix,
      limit,
      offset,
    );
  });
  return rows.map((r) => r.id);
}

/**
 * Checks that `userId` names an account someone may add, invite or write to: it
 * exists and is not deleted (a deleted account is unknown: users/deletion.ts).
 * @throws NOT_FOUND ("User") otherwise.
 */
export async function requireUser(db: Db, userId: string): Promise<void> {
  if (!(await db.user.findUnique({ where: { id: userId, deletedAt: null }, select: { id: true } }))) throw notFound("User");
}
