import type { PrismaClient } from "../db/client.js";
import { forbidden } from "../errors.js";
import type { MessageEncryption } from "../security/message-encryption.js";

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

/** ts_headline over the text `text` (an SQL expression) for the tsquery `q`: matches marked, stand-ins for markup (see {@link highlight}). */
const headline = (text: string) =>
  `ts_headline('simple', translate(${text}, '${MARKUP}', '${STAND_INS}'), q,
     CASE WHEN length(${text}) <= ${WHOLE_UP_TO}
       THEN 'StartSel=${START}, StopSel=${STOP}, HighlightAll=true'
       ELSE 'StartSel=${START}, StopSel=${STOP}, MaxFragments=2, MaxWords=24, MinWords=8' END)`;

/** Where the hits may be: live messages of the viewer's rooms ($2), or of one of them ($3). */
const IN_VIEWER_ROOMS = `m."deletedAt" IS NULL
       AND m."roomId" IN (SELECT "roomId" FROM "RoomMember" WHERE "userId" = $2::uuid)
       AND ($3::uuid IS NULL OR m."roomId" = $3::uuid)`;

/**
 * Full-text search (PostgreSQL, 'simple' configuration, web-search syntax:
 * words, "quoted phrases", -excluded, or) over the live (not deleted) messages of
 * the rooms the viewer is a member of, or of one of them. Best matches first,
 * then newest; messages up to 300 characters shown whole in the snippet.
 * Where the lexemes come from depends on encryption at rest (docs/security.md
 * "Encryption at rest"): without it, the GIN index on to_tsvector('simple',
 * content); with it, the MessageSearch table (MESSAGE_SEARCH=on), whose rows the
 * send, edits and the re-encryption job write, and the snippets are made from
 * the opened texts in a second statement. MESSAGE_SEARCH=off refuses every search.
 */
export class MessageSearch {
  /** `enabled`: MESSAGE_SEARCH=on; `encryption`: the node's (sealed content is searched through MessageSearch). */
  constructor(
    private readonly db: PrismaClient,
    private readonly encryption: MessageEncryption,
    private readonly enabled: boolean,
  ) {}

  /**
   * The hits for `query` (already validated) seen by `viewerId`, in `roomId` or all
   * their rooms; `limit`/`offset` come from an offset connection.
   * @throws FORBIDDEN when search is turned off (MESSAGE_SEARCH=off).
   */
  async search(viewerId: string, query: string, roomId: string | null, limit: number, offset: number): Promise<SearchHit[]> {
    if (!this.enabled) throw forbidden("Message search is turned off on this server (MESSAGE_SEARCH=off: nothing searchable is stored)");
    if (this.encryption.enabled) return this.searchSealed(viewerId, query, roomId, limit, offset);
    const rows = await this.db.$queryRawUnsafe<{ id: string; snippet: string }[]>(
      `SELECT m.id, ${headline("m.content")} AS snippet
       FROM "Message" m, websearch_to_tsquery('simple', $1) q
       WHERE to_tsvector('simple', m.content) @@ q AND ${IN_VIEWER_ROOMS}
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

  /** {@link search} over MessageSearch: the matching messages, opened, then their snippets. */
  private async searchSealed(viewerId: string, query: string, roomId: string | null, limit: number, offset: number): Promise<SearchHit[]> {
    const rows = await this.db.$queryRawUnsafe<{ id: string; content: string; contentKeyId: string | null }[]>(
      `SELECT m.id, m.content, m."contentKeyId"
       FROM "MessageSearch" s JOIN "Message" m ON m.id = s."messageId", websearch_to_tsquery('simple', $1) q
       WHERE s.vector @@ q AND ${IN_VIEWER_ROOMS}
       ORDER BY ts_rank(s.vector, q) DESC, m."createdAt" DESC, m.id
       LIMIT $4 OFFSET $5`,
      query,
      viewerId,
      roomId,
      limit,
      offset,
    );
    if (rows.length === 0) return [];
    const texts = rows.map((r) => this.encryption.open(r.id, r));
    const snippets = await this.db.$queryRawUnsafe<{ snippet: string }[]>(
      `SELECT ${headline("t")} AS snippet FROM unnest($2::text[]) WITH ORDINALITY AS u(t, i), websearch_to_tsquery('simple', $1) q ORDER BY i`,
      query,
      texts,
    );
    return rows.map((r, i) => ({ messageId: r.id, snippet: highlight(snippets[i]!.snippet) }));
  }
}

/** Escapes the snippet for HTML (stand-ins back to their characters, escaped), then turns the match markers into `<mark>` tags. */
function highlight(snippet: string): string {
  const original = [...STAND_INS].reduce((text, standIn, i) => text.replaceAll(standIn, MARKUP[i]!), snippet);
  const escaped = original.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return escaped.replaceAll(START, "<mark>").replaceAll(STOP, "</mark>");
}
