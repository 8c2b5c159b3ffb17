import { badInput, syncCursorExpired } from "../errors.js";

/**
 * Where a client's catch-up stands: the PostgreSQL snapshot its last sync read
 * under (`pg_current_snapshot()` as text, "xmin:xmax:xip,…") and when that was
 * (`at`, ms since the epoch). A row whose `xid` is not visible in `snapshot`
 * (`NOT pg_visible_in_snapshot(xid, snapshot)`) was written after it, whatever
 * the commit order of concurrent writers (migration 20261205100000_sync_positions).
 */
export interface SyncPosition {
  snapshot: string;
  at: number;
}

const PREFIX = "s1.";
/** pg_snapshot's text form: xmin:xmax:xip_list, 64-bit transaction ids. */
const SNAPSHOT = /^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20})*)?$/;

/** The opaque cursor clients get (`sync.nextCursor`): "s1." + base64url JSON. */
export function encodeSyncCursor(position: SyncPosition): string {
  return PREFIX + Buffer.from(JSON.stringify({ s: position.snapshot, t: position.at })).toString("base64url");
}

/**
 * Reads a cursor from {@link encodeSyncCursor}; null for null (the initial sync).
 * `field` names the argument in errors (`since`, `after`).
 * Throws BAD_USER_INPUT (with `field`) for anything else, and
 * {@link syncCursorExpired} when it is older than `retentionDays` (days) at `now` (ms).
 */
export function parseSyncCursor(
  cursor: string | null | undefined,
  field: string,
  retentionDays: number,
  now = Date.now(),
): SyncPosition | null {
  if (cursor == null) return null;
  const position = decode(cursor);
  if (!position) throw badInput(field, `${field} must be a cursor from sync's nextCursor`);
  if (now - position.at > retentionDays * 86_400_000) throw syncCursorExpired(field, retentionDays);
  return position;
}

function decode(cursor: string): SyncPosition | null {
  if (!cursor.startsWith(PREFIX) || cursor.length > 4096) return null;
  try {
    const { s, t } = JSON.parse(Buffer.from(cursor.slice(PREFIX.length), "base64url").toString("utf8")) as { s?: unknown; t?: unknown };
    if (
      typeof s !== "string" ||
      !SNAPSHOT.test(s) ||
      !consistent(s) ||
      typeof t !== "number" ||
      !Number.isSafeInteger(t) ||
      t > Date.now() + 60_000
    )
      return null;
    return { snapshot: s, at: t };
  } catch {
    return null;
  }
}

/**
 * Whether PostgreSQL's pg_snapshot input accepts `snapshot` (already of the
 * {@link SNAPSHOT} form): 0 < xmin <= xmax, and the in-progress ids ascending
 * within [xmin, xmax) (xid8funcs.c parse_snapshot). A tampered cursor failing this
 * is BAD_USER_INPUT here rather than a database error.
 */
function consistent(snapshot: string): boolean {
  const [xmin, xmax, xip] = snapshot.split(":") as [string, string, string];
  const [low, high] = [BigInt(xmin), BigInt(xmax)];
  if (low === 0n || low > high) return false;
  let last = low;
  for (const id of xip ? xip.split(",").map(BigInt) : []) {
    if (id < last || id >= high) return false;
    last = id;
  }
  return true;
}
