import type { PrismaClient } from "../db/client.js";

/** One search hit: the message id and a snippet of its content. */
export interface SearchHit {
  messageId: string;
  /** HTML-escaped content excerpt with the matched words in `<mark>…</mark>`. */
  snippet: string;
}

/** Markers ts_headline puts around matches; control characters no message text is meant to hold. */
const START = "\u0001";
const STOP = "\u0002";
/**
 * ts_headline drops anything shaped like an HTML tag, so `<`, `>` and `&` go in
 * as these stand-ins (same order) and come out escaped.
 */
const MARKUP = "<>&";
const STAND_INS = "\u0003\u0004\u0005";
/** Messages up to this many characters are shown whole in the snippet; longer ones as two fragments around the matches. */
const WHOLE_UP_TO = 300;

/**
 * Full-text search (PostgreSQL, 'simple' configuration, web-search syntax:
 * words, "quoted phrases", -excluded, or) over the live (not deleted) messages of
 * the rooms `viewerId` is a member of, or of one of them. Best matches first,
 * then newest; messages up to 300 characters shown whole in the snippet. Uses the migration's GIN index on to_tsvector('simple', content).
 * `limit`/`offset` come from an offset connection.
 */
export async function searchMessages(db: PrismaClient, viewerId: string, query: string, roomId: string | null, limit: number, offset: number): Promise<SearchHit[]> {
  const rows = await db.$queryRawUnsafe<{ id: string; snippet: string }[]>(
    `SELECT m.id, ts_headline('simple', translate(m.content, '${MARKUP}', '${STAND_INS}'), q,
       CASE WHEN length(m.content) <= ${WHOLE_UP_TO}
         THEN 'StartSel=${START}, StopSel=${STOP}, HighlightAll=true'
         ELSE 'StartSel=${START}, StopSel=${STOP}, MaxFragments=2, MaxWords=24, MinWords=8' END) AS snippet
     FROM "Message" m, websearch_to_tsquery('simple', $1) q
     WHERE m."deletedAt" IS NULL
       AND to_tsvector('simple', m.content) @@ q
       AND m."roomId" IN (SELECT "roomId" FROM "RoomMember" WHERE "userId" = $2::uuid)
       AND ($3::uuid IS NULL OR m."roomId" = $3::uuid)
     ORDER BY ts_rank(to_tsvector('simple', m.content), q) DESC, m."createdAt" DESC, m.id
     LIMIT $4 OFFSET $5`,
    query,
    viewerId,
    roomId,
    limit,
    offset,
  );
  return rows.map((r) => ({ messageId: r.id, snippet: highlight(r.snippet) }));
}

/** Escapes the snippet for HTML (stand-ins back to their characters, escaped), then turns the match markers into `<mark>` tags. */
function highlight(snippet: string): string {
  const original = [...STAND_INS].reduce((text, standIn, i) => text.replaceAll(standIn, MARKUP[i]!), snippet);
  const escaped = original.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return escaped.replaceAll(START, "<mark>").replaceAll(STOP, "</mark>");
}
