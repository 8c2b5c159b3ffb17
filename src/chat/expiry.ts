import type { Attachments } from "../attachments/attachments.js";
import type { Admission } from "../db/admission.js";
import type { PrismaClient } from "../db/client.js";
import { isDatabaseUnavailable } from "../db/errors.js";
import type { EventLog } from "../realtime/event-log.js";
import { purge } from "./messages.js";

/** How many expired messages one sweep purges at most (the next sweep takes the rest). */
const BATCH = 500;

/** How many user event log rows past retention one trim deletes at most (one statement). */
const LOG_BATCH = 1000;

/** How often, in ms, the user event log is trimmed; a trim that deleted a full batch trims again at the next sweep. */
const LOG_TRIM_EVERY_MS = 60_000;

/**
 * A purge's transaction options. Its turn comes through the admission, so its wait
 * for a connection is short; `maxWait` is long because Prisma gives a connection back
 * and throws P2028 when it got it later than that (event-log.ts transaction), which
 * would make a busy pool fail the sweep after the wait, for nothing.
 */
const PURGE_TRANSACTION = { maxWait: 10_000, timeout: 5000 };

/**
 * Purges self-destructing messages (sendMessage expiresIn) when their time comes: the
 * message becomes a tombstone (messages.purge) and the room gets a
 * MessageExpired event. The schedule is the messages' `expiresAt` in PostgreSQL,
 * so it survives restarts; every node sweeps every `intervalMs`, and
 * `FOR UPDATE SKIP LOCKED` gives each expired message to exactly one of them.
 * Background work: each sweep first asks whether anything is due (one statement,
 * no transaction: what most sweeps do), and each of its statements and purges
 * waits for its turn through `admission` (db/admission.ts), so sweeps never
 * crowd requests and writes out of the pool. A sweep that finds the database
 * unavailable is skipped with a warning (`onUnavailable`); the next one retries.
 * The same sweep trims the users' event logs (UserEventLog, realtime/event-log.ts
 * logUserEvents): rows older than `logRetentionDays` (config SYNC_RETENTION_DAYS,
 * the age past which a sync cursor is refused: src/sync/cursor.ts) go, at most
 * {@link LOG_BATCH} per statement, once a minute or at the next sweep while
 * batches come back full. Several nodes may delete the same rows: harmless.
 */
export class MessageExpiry {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | null = null;
  /** When the event log may be trimmed next (ms since the epoch). */
  private nextLogTrim = 0;

  constructor(
    private readonly db: PrismaClient,
    private readonly admission: Admission,
    private readonly events: EventLog,
    private readonly attachments: Attachments,
    intervalMs: number,
    private readonly logRetentionDays: number,
    onError: (err: unknown) => void,
    onUnavailable: (err: unknown) => void = onError,
  ) {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .then(
          () => undefined,
          (err: unknown) => (isDatabaseUnavailable(err) ? onUnavailable : onError)(err),
        )
        .finally(() => (this.running = null));
    }, intervalMs).unref();
  }

  /** Trims the event log when its time has come, then purges the messages whose time has come; resolves with how many messages. */
  async sweep(): Promise<number> {
    if (Date.now() >= this.nextLogTrim) {
      const full = (await this.trimLog()) === LOG_BATCH;
      this.nextLogTrim = full ? 0 : Date.now() + LOG_TRIM_EVERY_MS;
    }
    if (!(await this.anyDue())) return 0;
    let purged = 0;
    while (purged < BATCH && (await this.purgeOne())) purged++;
    return purged;
  }

  /** Stops sweeping; waits for a sweep in progress. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * Deletes up to {@link LOG_BATCH} event log rows older than the retention window,
   * oldest first (one statement on the createdAt index); resolves with how many.
   */
  async trimLog(): Promise<number> {
    return this.admission.run(
      () => this.db.$executeRaw`
        DELETE FROM "UserEventLog" WHERE id IN (
          SELECT id FROM "UserEventLog" WHERE "createdAt" < now() - make_interval(days => ${this.logRetentionDays}::int)
          ORDER BY "createdAt" LIMIT ${LOG_BATCH})`,
    );
  }

  /** Whether a message is due (one indexed read, outside any transaction). */
  private async anyDue(): Promise<boolean> {
    const rows = await this.admission.run(
      () => this.db.$queryRaw<unknown[]>`SELECT 1 FROM "Message" WHERE "expiresAt" <= now() AND "deletedAt" IS NULL LIMIT 1`,
    );
    return rows.length > 0;
  }

  /** One expired message per transaction: room locks are then taken one at a time, so sweeping nodes cannot deadlock. */
  private async purgeOne(): Promise<boolean> {
    const files = await this.admission.run(() =>
      this.events.transaction(
        this.db,
        async (tx, record) => {
          const [due] = await tx.$queryRaw<{ id: string; roomId: string }[]>`
          SELECT id, "roomId" FROM "Message"
          WHERE "expiresAt" <= now() AND "deletedAt" IS NULL
          ORDER BY "expiresAt" LIMIT 1 FOR UPDATE SKIP LOCKED`;
          if (!due) return null;
          await record({ kind: "MessageExpired", roomId: due.roomId, messageId: due.id });
          return (await purge(tx, due.id)).files;
        },
        PURGE_TRANSACTION,
      ),
    );
    if (files) await this.attachments.removeFiles(files);
    return files !== null;
  }
}
