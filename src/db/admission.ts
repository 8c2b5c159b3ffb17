/**
 * Admission control for the database work that can wait: subscription set-up
 * (membership check, the room's head, replay pages, gap fills), WebSocket
 * authentication, presence announcements and the expiry sweep. At most
 * `permits` such jobs run at once; the others wait here, in memory, holding no
 * connection and no place in node-postgres' pool queue (which is first come,
 * first served). A storm of 2,000 subscribers then puts at most `permits` jobs
 * ahead of a write in that queue instead of thousands of reads, so requests and
 * writes keep `poolSize - permits` connections to themselves and get one of the
 * others after a statement or two (docs/architecture.md, Faults).
 *
 * A job holds its permit while it runs, including waiting for a connection, and
 * hands it straight to the next job in line when it ends (first come, first
 * served here too), whether it succeeded or threw. A job whose client went away
 * while it waited (`wanted` false when its turn comes: a reconnect storm's
 * abandoned sockets) is dropped without running, with {@link Withdrawn}.
 */
export class Admission {
  private running = 0;
  /** Waiting jobs' wake-ups, oldest first. */
  private readonly queue: (() => void)[] = [];

  constructor(readonly permits: number) {
    if (!(permits >= 1)) throw new RangeError(`Admission needs at least one permit, got ${permits}`);
  }

  /** Jobs running now (at most `permits`). */
  get active(): number {
    return this.running;
  }

  /** Jobs waiting for a permit. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Runs `job` once a permit is free; resolves or rejects as it does.
   * @throws Withdrawn, without running `job`, when `wanted` says no at its turn.
   */
  async run<T>(job: () => Promise<T>, wanted?: () => boolean): Promise<T> {
    if (this.running < this.permits) this.running++;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      if (wanted && !wanted()) throw new Withdrawn();
      return await job();
    } finally {
      this.release();
    }
  }

  /** Hands the permit to the oldest waiting job, or frees it. */
  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}

/** A job dropped by {@link Admission.run} because its client went away while it waited: nobody is there to answer. */
export class Withdrawn extends Error {
  override name = "Withdrawn";
  constructor() {
    super("The client went away before this could run");
  }
}
