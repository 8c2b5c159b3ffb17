import type { PrismaClient } from "../db/client.js";
import type { Events } from "../realtime/events.js";
import type { Attachments } from "../attachments/attachments.js";
import { purge } from "./messages.js";

/** How many expired messages one sweep purges at most (the next sweep takes the rest). */
const BATCH = 500;

/**
 * Purges self-destructing messages (seed 001) when their time comes: the
 * message becomes a tombstone (messages.purge) and the room gets a
 * MessageExpired event. The schedule is the messages' `expiresAt` in PostgreSQL,
 * so it survives restarts; every node sweeps every `intervalMs`, and
 * `FOR UPDATE SKIP LOCKED` gives each expired message to exactly one of them.
 */
export class MessageExpiry {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | null = null;

  constructor(
    private readonly db: PrismaClient,
    private readonly events: Events,
    private readonly attachments: Attachments,
    intervalMs: number,
    onError: (err: unknown) => void,
  ) {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .then(() => undefined, onError)
        .finally(() => (this.running = null));
    }, intervalMs).unref();
  }

  /** Purges the messages whose time has come; resolves with how many. */
  async sweep(): Promise<number> {
    let purged = 0;
    while (purged < BATCH && (await this.purgeOne())) purged++;
    return purged;
  }

  /** Stops sweeping; waits for a sweep in progress. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One expired message per transaction: room locks are then taken one at a time, so sweeping nodes cannot deadlock. */
  private async purgeOne(): Promise<boolean> {
    const files = await this.events.transaction(this.db, async (tx, record) => {
      const [due] = await tx.$queryRaw<{ id: string; roomId: string }[]>`
        SELECT id, "roomId" FROM "Message"
        WHERE "expiresAt" <= now() AND "deletedAt" IS NULL
        ORDER BY "expiresAt" LIMIT 1 FOR UPDATE SKIP LOCKED`;
      if (!due) return null;
      await record({ kind: "MessageExpired", roomId: due.roomId, messageId: due.id });
      return (await purge(tx, due.id)).files;
    });
    if (files) await this.attachments.removeFiles(files);
    return files !== null;
  }
}
