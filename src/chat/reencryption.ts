import type { Admission } from "../db/admission.js";
import type { Db, PrismaClient } from "../db/client.js";
import { isDatabaseUnavailable } from "../db/errors.js";
import type { MessageEncryption } from "../security/message-encryption.js";

/** A row whose content is to be sealed again: its id, its message's id (the AAD) and its content as stored. */
interface StaleRow {
  id: string;
  messageId: string;
  content: string;
  contentKeyId: string | null;
}

/** Rows per table per batch, and how often each node looks for work (ms) once a run has found none. */
export const REENCRYPTION_BATCH = 500;
export const REENCRYPTION_INTERVAL_MS = 60_000;

/** A batch's transaction options (as the expiry sweep's: its turn comes through the admission). */
const BATCH_TRANSACTION = { maxWait: 10_000, timeout: 10_000 };

/**
 * The background re-encryption of content at rest (docs/security.md "Encryption at
 * rest"). With encryption on, each run seals again, under the current key, up to
 * `batchSize` messages and `batchSize` edits whose content is under another key or
 * none (stored before encryption was turned on); tombstones ("" with no key) are
 * left as they are. With MESSAGE_SEARCH=on (`searchSealed`) the messages it seals
 * get their MessageSearch lexemes; with it off, each run also drops up to
 * `batchSize` MessageSearch rows left from when it was on, so nothing plaintext
 * stays at rest. Rows are taken `FOR UPDATE SKIP LOCKED`, one transaction per
 * batch: nodes share the work, and an edit or delete of a row waits for its batch
 * (or the batch skips it). Every node runs every `intervalMs`, batch after batch
 * until one finds nothing (one transaction of two indexed reads); a run that
 * finds the database unavailable is skipped (`onUnavailable`), the next one retries.
 * Without keys it never runs.
 */
export class Reencryption {
  private readonly timer: NodeJS.Timeout | null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly db: PrismaClient,
    private readonly admission: Admission,
    private readonly encryption: MessageEncryption,
    private readonly searchSealed: boolean,
    private readonly batchSize: number,
    intervalMs: number,
    onError: (err: unknown) => void,
    onUnavailable: (err: unknown) => void = onError,
  ) {
    this.timer = encryption.enabled
      ? setInterval(() => {
          this.running ??= this.runUntilDone()
            .catch((err: unknown) => (isDatabaseUnavailable(err) ? onUnavailable : onError)(err))
            .finally(() => (this.running = null));
        }, intervalMs).unref()
      : null;
  }

  /**
   * One batch: messages, then edits, then (search off) stale lexemes. Resolves with
   * how many rows it changed; 0 once everything is under the current key.
   * @throws the database's errors (the batch's transaction is rolled back).
   */
  async runBatch(): Promise<number> {
    const current = this.encryption.currentKeyId;
    if (!current) return 0;
    return this.admission.run(() =>
      this.db.$transaction(async (tx) => {
        const messages = await tx.$queryRaw<StaleRow[]>`
          SELECT id, id AS "messageId", content, "contentKeyId" FROM "Message"
          WHERE ("contentKeyId" IS NULL OR "contentKeyId" <> ${current}) AND "deletedAt" IS NULL
          ORDER BY id LIMIT ${this.batchSize} FOR UPDATE SKIP LOCKED`;
        const edits = await tx.$queryRaw<StaleRow[]>`
          SELECT id, "messageId", content, "contentKeyId" FROM "MessageEdit"
          WHERE "contentKeyId" IS NULL OR "contentKeyId" <> ${current}
          ORDER BY id LIMIT ${this.batchSize} FOR UPDATE SKIP LOCKED`;
        const texts = await this.reseal(tx, "Message", messages);
        await this.reseal(tx, "MessageEdit", edits);
        let dropped = 0;
        if (this.searchSealed && messages.length > 0) {
          await tx.$executeRaw`INSERT INTO "MessageSearch" ("messageId", vector)
            SELECT id, to_tsvector('simple', t) FROM unnest(${messages.map((m) => m.id)}::uuid[], ${texts}::text[]) AS u(id, t)
            ON CONFLICT ("messageId") DO UPDATE SET vector = EXCLUDED.vector`;
        } else if (!this.searchSealed) {
          dropped =
            await tx.$executeRaw`DELETE FROM "MessageSearch" WHERE "messageId" IN (SELECT "messageId" FROM "MessageSearch" LIMIT ${this.batchSize} FOR UPDATE SKIP LOCKED)`;
        }
        return messages.length + edits.length + dropped;
      }, BATCH_TRANSACTION),
    );
  }

  /** Runs batches until one changes nothing; resolves with how many rows they changed. */
  async runUntilDone(): Promise<number> {
    let total = 0;
    for (let changed = await this.runBatch(); changed > 0; changed = await this.runBatch()) total += changed;
    return total;
  }

  /** Stops running; waits for a batch in progress. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Seals `rows` of `table` under the current key in one statement; resolves with their texts, in order. */
  private async reseal(tx: Db, table: "Message" | "MessageEdit", rows: StaleRow[]): Promise<string[]> {
    if (rows.length === 0) return [];
    const texts = rows.map((r) => this.encryption.open(r.messageId, r));
    const sealed = rows.map((r, i) => this.encryption.seal(r.messageId, texts[i]!).content);
    const ids = rows.map((r) => r.id);
    // the table name is one of two literals, never input
    await tx.$executeRawUnsafe(
      `UPDATE "${table}" SET content = u.content, "contentKeyId" = $3 FROM unnest($1::uuid[], $2::text[]) AS u(id, content) WHERE "${table}".id = u.id`,
      ids,
      sealed,
      this.encryption.currentKeyId,
    );
    return texts;
  }
}
