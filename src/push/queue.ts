import { Queue, UnrecoverableError, Worker } from "bullmq";
import type { Logger } from "pino";
import { connectRedis, type RedisClient, type RedisSettings } from "../realtime/redis-connection.js";

/** How one job is added to a {@link JobQueue}. */
export interface JobOptions {
  /**
   * While a job with this id was added less than `dedupTtlMs` ago, adding another
   * one with it does nothing (BullMQ's deduplication in throttle mode): the coalescing of pushes.
   */
  dedup?: { id: string; ttlMs: number };
  /** Run it no earlier than this many ms from now (default 0). */
  delayMs?: number;
  /** Runs at most this many times: a run that throws is retried after retryBaseMs × 2^(run − 1) unless the error is a {@link PermanentFailure}. */
  attempts: number;
}

/** Runs one job: `name` and `data` as added. Throwing retries it (see {@link JobOptions.attempts}). */
export type JobHandler = (name: string, data: unknown) => Promise<void>;

/** Thrown by a {@link JobHandler} whose job must not be retried (it can never succeed). */
export class PermanentFailure extends Error {
  override name = "PermanentFailure";
}

/**
 * The push queue's interface (src/push/notifier.ts adds and runs its jobs through
 * it): jobs with deduplication, delays, retries with exponential backoff, and a
 * worker of bounded concurrency. {@link BullJobQueue} keeps them in Redis, shared by
 * every node; {@link MemoryJobQueue} in this process.
 */
export interface JobQueue {
  /** Adds a job (one Redis round trip with BullMQ). @throws when it cannot be stored (Redis down). */
  add(name: string, data: unknown, options: JobOptions): Promise<void>;
  /** Starts this node's worker with `handler`; `concurrency` jobs at most at once. */
  work(handler: JobHandler, concurrency: number): void;
  /** Stops taking jobs, waits for those running (graceful shutdown), and releases the connections. */
  close(): Promise<void>;
}

/**
 * A {@link JobQueue} in Redis (BullMQ): the queue `push` under `<REDIS_KEY_PREFIX>bull`
 * (in a cluster `{<REDIS_KEY_PREFIX>bull}`: BullMQ's scripts touch several keys of a
 * queue at once, so its keys share a hash tag and live on one shard), its worker on every node. BullMQ hands each job to one worker (a job's lock in
 * Redis), so each push is sent once however many nodes there are, and a node that
 * crashes mid-job leaves it stalled: another node's worker takes it over (BullMQ's
 * stalled-job check, every 30 s). Finished jobs are removed; failed ones kept (the last 1,000) for inspection.
 */
export class BullJobQueue implements JobQueue {
  readonly #queue: Queue;
  #worker: Worker | null = null;
  readonly #connections: RedisClient[] = [];
  private readonly prefix: string;

  /** `prefix`: REDIS_KEY_PREFIX; `retryBaseMs`: first retry delay (PUSH_RETRY_BASE_MS). */
  constructor(
    private readonly redis: RedisSettings,
    keyPrefix: string,
    private readonly retryBaseMs: number,
    private readonly logger: Logger,
  ) {
    this.prefix = redis.REDIS_CLUSTER ? `{${keyPrefix}bull}` : `${keyPrefix}bull`;
    // adds fail after two reconnection attempts instead of queueing while Redis is away: the sender logs them and goes on
    this.#queue = new Queue("push", { connection: this.#connection(2), prefix: this.prefix });
    this.#queue.on("error", (err) => logger.warn({ err }, "push queue: Redis error"));
  }

  async add(name: string, data: unknown, options: JobOptions): Promise<void> {
    await this.#queue.add(name, data, {
      attempts: options.attempts,
      backoff: { type: "exponential", delay: this.retryBaseMs },
      delay: options.delayMs ?? 0,
      ...(options.dedup ? { deduplication: { id: options.dedup.id, ttl: options.dedup.ttlMs } } : {}),
      removeOnComplete: true,
      removeOnFail: 1000,
    });
  }

  work(handler: JobHandler, concurrency: number): void {
    this.#worker = new Worker(
      "push",
      async (job) => {
        try {
          await handler(job.name, job.data);
        } catch (err) {
          throw err instanceof PermanentFailure ? new UnrecoverableError(err.message) : err;
        }
      },
      { connection: this.#connection(null), prefix: this.prefix, concurrency },
    );
    this.#worker.on("error", (err) => this.logger.warn({ err }, "push worker: Redis error"));
    this.#worker.on("failed", (job, err) => {
      const final = !job || err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      this.logger[final ? "error" : "warn"](
        { err, job: job?.name, attempt: job?.attemptsMade },
        final ? "push job failed" : "push job failed; retried",
      );
    });
  }

  async close(): Promise<void> {
    await this.#worker?.close();
    await this.#queue.close();
    await Promise.all(this.#connections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** A connection of its own for the queue and for the worker (whose blocking reads need `maxRetriesPerRequest: null`). */
  #connection(maxRetriesPerRequest: number | null): RedisClient {
    const connection = connectRedis(this.redis, { maxRetriesPerRequest });
    this.#connections.push(connection);
    return connection;
  }
}

/** A job of {@link MemoryJobQueue}, from its adding to its last run. */
interface MemoryJob {
  name: string;
  data: unknown;
  attempts: number;
  /** Runs so far. */
  runs: number;
}

/**
 * A {@link JobQueue} in this process, for the single node without REDIS_URL
 * (like the in-process pub/sub): the same deduplication, delays, retries and
 * concurrency, but not crash-safe: jobs waiting (delayed, or backing off) when the
 * process stops are lost, and close() drops them.
 */
export class MemoryJobQueue implements JobQueue {
  readonly #timers = new Set<NodeJS.Timeout>();
  /** dedup id → when it lapses (ms since the epoch) */
  readonly #dedup = new Map<string, number>();
  readonly #ready: MemoryJob[] = [];
  readonly #running = new Set<Promise<void>>();
  #handler: JobHandler | null = null;
  #concurrency = 1;
  #closed = false;

  /** `retryBaseMs`: first retry delay (PUSH_RETRY_BASE_MS). */
  constructor(
    private readonly retryBaseMs: number,
    private readonly logger: Logger,
  ) {}

  async add(name: string, data: unknown, options: JobOptions): Promise<void> {
    if (this.#closed) throw new Error("push queue closed");
    const now = Date.now();
    if (options.dedup) {
      if ((this.#dedup.get(options.dedup.id) ?? 0) > now) return;
      for (const [id, until] of this.#dedup) if (until <= now) this.#dedup.delete(id);
      this.#dedup.set(options.dedup.id, now + options.dedup.ttlMs);
    }
    this.#after(options.delayMs ?? 0, { name, data, attempts: options.attempts, runs: 0 });
  }

  work(handler: JobHandler, concurrency: number): void {
    this.#handler = handler;
    this.#concurrency = concurrency;
    this.#pump();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#ready.length = 0;
    while (this.#running.size > 0) await Promise.allSettled(this.#running);
  }

  /** Makes `job` ready in `ms`. */
  #after(ms: number, job: MemoryJob): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#ready.push(job);
      this.#pump();
    }, ms);
    this.#timers.add(timer);
  }

  /** Starts ready jobs while there is room. */
  #pump(): void {
    while (this.#handler && !this.#closed && this.#running.size < this.#concurrency && this.#ready.length > 0) {
      const job = this.#ready.shift()!;
      const run = this.#run(this.#handler, job).finally(() => {
        this.#running.delete(run);
        this.#pump();
      });
      this.#running.add(run);
    }
  }

  async #run(handler: JobHandler, job: MemoryJob): Promise<void> {
    job.runs += 1;
    try {
      await handler(job.name, job.data);
    } catch (err) {
      const final = err instanceof PermanentFailure || job.runs >= job.attempts || this.#closed;
      this.logger[final ? "error" : "warn"](
        { err, job: job.name, attempt: job.runs },
        final ? "push job failed" : "push job failed; retried",
      );
      if (!final) this.#after(this.retryBaseMs * 2 ** (job.runs - 1), job);
    }
  }
}
