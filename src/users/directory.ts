import type { Db } from "../db/client.js";

/** The display-name expression that the migration's trigram index covers. */
const DISPLAY_NAME = `lower(coalesce(u."displayName", u."firstName" || ' ' || u."lastName"))`;

/**
 * One page of the user directory for `viewerId`: user ids ranked for `search`
 * (prefix matches on username or display name first, then pg_trgm similarity,
 * then username); all users by username without a search. Never matches on
 * email; users who blocked the viewer are left out.
 * `limit`/`offset` come from an offset connection.
 */
export async function searchUserIds(db: Db, viewerId: string, search: string | null, limit: number, offset: number): Promise<string[]> {
  const q = (search ?? "").trim().toLowerCase();
  const prefix = `${q.replace(/[\\%_]/g, "\\$&")}%`;
  const rows = await db.$queryRawUnsafe<{ id: string }[]>(
    `SELECT u.id FROM "User" u
     WHERE NOT EXISTS (SELECT 1 FROM "Block" b WHERE b."blockerId" = u.id AND b."blockedId" = $1::uuid)
       AND ($2 = '' OR u.username LIKE $3 OR ${DISPLAY_NAME} LIKE $3 OR u.username % $2 OR ${DISPLAY_NAME} % $2)
     ORDER BY (u.username LIKE $3 OR ${DISPLAY_NAME} LIKE $3) DESC,
              greatest(similarity(u.username, $2), similarity(${DISPLAY_NAME}, $2)) DESC,
              u.username
     LIMIT $4 OFFSET $5`,
    viewerId,
    q,
    prefix,
    limit,
    offset,
  );
  return rows.map((r) => r.id);
}
