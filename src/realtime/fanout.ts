/**
 * Fan-out groups: one delivery loop per node and per (topic, document, operation
 * name, variables) for the room subscriptions of WebSocket clients (messageAdded,
 * roomEvents).
 *
 * A group has one pub/sub registration (a {@link SequencedStream} of its own, so one
 * gap-free sequence: duplicates dropped, gaps filled from storage), one removal watch
 * when its subscriptions end on removal (messageAdded), and for a viewer-independent
 * selection (realtime/shared-execution.ts) one execution and one serialization per
 * event. It then loops over its members and writes each one's frame straight to its
 * socket: `{"id":<the member's id>,"type":"next","payload":<the shared JSON>}`, the
 * bytes graphql-ws would send (realtime/shared-json.ts). A selection with
 * viewer-dependent fields is executed per member, inside the same loop.
 *
 * Per-subscriber work stays per subscriber. The subscription's own resolver runs
 * as before (authorization, `after` parsed, replay started: schema/message.ts,
 * schema/events.ts); the member then reads its own stream (replay, and whatever
 * came live meanwhile) until it has reached the group's position, and only then
 * joins: from there the group hands it every event with a seq above its own, so it
 * gets every event once and in order. A removal ends that viewer's members only;
 * a slow consumer is closed by the socket's guard (1013) when a write would exceed
 * its unread-bytes bound, and leaves its group when graphql-ws ends its operations.
 *
 * graphql-ws sees a member as an async iterator whose one `next()` settles when the
 * subscription ends: done (graphql-ws sends `complete`) after a removal, done after
 * `return()` (the client's `complete`, or the socket closed), or rejected with the
 * error that ended its stream (graphql-ws sends `error`). The group unsubscribes
 * from the pub/sub when its last member (joined or joining) leaves.
 */
import { SpanKind } from "@opentelemetry/api";
import { mapAsyncIterator } from "@whatwg-node/promise-helpers";
import {
  createSourceEventStream,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type FieldNode,
  getOperationAST,
  Kind,
  visit,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Metrics } from "../metrics.js";
import type { TraceCarrier, Tracing } from "../tracing.js";
import { EndWhenRemoved, removes } from "./removal.js";
import { executionKey, isViewerIndependent, variablesValid } from "./shared-execution.js";
import { nextFrameStart, nextPayloadJson } from "./shared-json.js";
import { SequencedStream, type StreamSource, sequencedStream } from "./stream.js";
import { type RoomEventPayload, topics } from "./topics.js";

/** Root fields whose subscriptions join fan-out groups: the sequenced room streams. */
const GROUPED_FIELDS = new Set(["messageAdded", "roomEvents"]);

/** What the fan-out needs of the socket that runs an operation: the WebSocket binding (ws-server.ts) puts it in the root value. */
export interface FanoutSocket {
  /** The graphql-ws operation id its `next` frames carry. */
  readonly id: string;
  /**
   * Writes one text frame to the socket. The binding drops it when the socket is not
   * open, and closes the socket with 1013 instead when more than WS_MAX_BUFFERED_BYTES
   * are unread (limits/socket-guard.ts). Never throws, never waits.
   */
  write(frame: string): void;
  /** Executes the operation for one event (Yoga's enveloped `execute`: its plugins' hooks, error masking included). */
  execute(args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult;
}

/** The root value of an operation that may join a fan-out group: the WebSocket binding's carries `fanout`, HTTP's does not. */
export interface FanoutRoot {
  readonly fanout?: FanoutSocket;
}

/**
 * An envelop (Yoga) plugin: a WebSocket subscription to messageAdded or roomEvents
 * (one root field, valid variables) joins its fan-out group on this node instead of
 * being iterated per subscriber (see the module comment). Anything else (SSE, other
 * fields, bad variables) takes the normal path. `metrics`: chat_events_delivered_total and
 * chat_shared_results_total still count every delivery, but in one step per event and
 * group, with one lag sample; chat_shared_executions_total counts the group's executions.
 * `tracing` (null when off): an event whose payload carries a trace context (tracing.ts
 * TraceCarrier) is delivered in one `delivery` span per group, child of its `publish`.
 */
export function useFanoutGroups(metrics: Metrics, tracing: Tracing | null): Plugin {
  const groups = new FanoutGroups(metrics, tracing);
  return {
    // an event's execution goes through Yoga's execute (its hooks: error masking…), whose engine would
    // subscribe anew to a subscription operation: graphql-js's execute runs its selection on the event
    onExecute: ({ args, setExecuteFn }) => {
      if (groups.executions.has(args)) setExecuteFn(execute);
    },
    onSubscribe: ({ args, setSubscribeFn }) => {
      const socket = (args.rootValue as FanoutRoot | undefined)?.fanout;
      if (!socket || !GROUPED_FIELDS.has(rootFieldOf(args)?.name.value ?? "")) return;
      setSubscribeFn(async (args: ExecutionArgs) => {
        if (!variablesValid(args)) return createSourceEventStream(args);
        const source = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in source)) return source;
        return groups.join(socket, args, source as AsyncIterableIterator<unknown>);
      });
    },
  };
}

/** The operation's only root field, if it is selected directly (not through a fragment). */
function rootFieldOf(args: ExecutionArgs): FieldNode | undefined {
  const selections = getOperationAST(args.document, args.operationName)?.selectionSet.selections;
  const field = selections?.length === 1 ? selections[0] : undefined;
  return field?.kind === Kind.FIELD ? field : undefined;
}

/**
 * The operation's variables without the one that only gives the root field's `after`
 * (used once in the document): a cursor steers the member's own replay, not what the
 * group delivers, so subscribers resuming from different cursors share a group.
 */
function withoutReplayCursor(args: ExecutionArgs): ExecutionArgs["variableValues"] {
  const after = rootFieldOf(args)?.arguments?.find((a) => a.name.value === "after")?.value;
  if (after?.kind !== Kind.VARIABLE || !args.variableValues) return args.variableValues;
  const name = after.name.value;
  let uses = 0;
  visit(args.document, { Variable: (node) => void (node.name.value === name && uses++) });
  // one use in the arguments, one in the operation's definition
  if (uses !== 2) return args.variableValues;
  const { [name]: _cursor, ...rest } = args.variableValues;
  return rest;
}

/** A node's fan-out groups by key; one per plugin (per node), no module state. */
class FanoutGroups {
  private readonly groups = new Map<string, FanoutGroup<unknown>>();
  /** The arguments of the executions of events for members (see the plugin's `onExecute`). */
  readonly executions = new WeakSet<object>();

  constructor(
    readonly metrics: Metrics,
    readonly tracing: Tracing | null,
  ) {}

  /**
   * Makes the subscription whose resolver returned `stream` (a {@link SequencedStream},
   * maybe inside an {@link EndWhenRemoved}) a member of its group, once the group
   * listens: the result is the member, for graphql-ws to wait on. A stream of another
   * shape, or a group that failed to start, is mapped per subscriber as graphql-js would.
   * @throws nothing of its own; a rejected `next()` of the result carries the stream's errors.
   */
  async join(
    socket: FanoutSocket,
    args: ExecutionArgs,
    stream: AsyncIterableIterator<unknown>,
  ): Promise<AsyncIterableIterator<ExecutionResult>> {
    const removal = stream instanceof EndWhenRemoved ? stream : undefined;
    const own = removal ? removal.iterator : stream;
    if (!(own instanceof SequencedStream)) return perSubscriber(socket, args, stream, this.executions);
    const key = `${own.source.topic}\n${executionKey({ ...args, variableValues: withoutReplayCursor(args) })}`;
    let group = this.groups.get(key);
    if (!group) {
      const shared = isViewerIndependent(args.schema, args.document);
      group = new FanoutGroup(this, key, own.source, removal && topics.roomEvents(removal.roomId), shared);
      this.groups.set(key, group);
    }
    const member = new Member(group, socket, args, stream, own, removal?.userId, this.executions);
    group.joining.add(member);
    try {
      await group.ready;
    } catch {
      group.joining.delete(member);
      return perSubscriber(socket, args, stream, this.executions);
    }
    member.start();
    return member;
  }

  /** Forgets `group` (it has stopped), unless another group has taken its key since. */
  forget(group: FanoutGroup<unknown>): void {
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
  }
}

/**
 * A stream mapped to results per subscriber, as graphql-js's `subscribe` does: the path
 * outside groups (a stream of another shape, or a group that could not start).
 */
function perSubscriber(
  socket: FanoutSocket,
  args: ExecutionArgs,
  stream: AsyncIterableIterator<unknown>,
  executions: WeakSet<object>,
): AsyncIterableIterator<ExecutionResult> {
  return mapAsyncIterator(stream, (event) => executeEvent(socket, args, event, executions)) as AsyncIterableIterator<ExecutionResult>;
}

/**
 * Executes `args`' operation for one event through the socket's execute (Yoga's), with
 * its arguments registered in `executions`, so that the plugin's `onExecute` runs
 * graphql-js's execute on the event: Yoga's own engine would subscribe anew to the
 * subscription operation and hand back an iterator as the "result" (sent as `{}`).
 */
function executeEvent(
  socket: FanoutSocket,
  args: ExecutionArgs,
  event: unknown,
  executions: WeakSet<object>,
): Promise<ExecutionResult> | ExecutionResult {
  const eventArgs = { ...args, rootValue: event };
  executions.add(eventArgs);
  return socket.execute(eventArgs);
}

/** One delivery loop: see the module comment. */
class FanoutGroup<T> {
  /** Members that receive from the group. */
  readonly members = new Set<Member<T>>();
  /** Members still reading their own stream up to the group's position. */
  readonly joining = new Set<Member<T>>();
  /** The seq of the newest event the group has taken on (delivered, or being delivered): members join at or past it. */
  last = 0;
  /** Resolves once the group hears its topic (and its removal topic), rejects if it could not start. */
  readonly ready: Promise<void>;
  private stream: SequencedStream<T> | undefined;
  private watch: number | undefined;
  private stopped = false;

  constructor(
    private readonly groups: FanoutGroups,
    readonly key: string,
    private readonly source: StreamSource<T>,
    /** The room's events topic, for groups whose members end on removal (messageAdded); roomEvents members end on the event itself. */
    private readonly removalTopic: string | undefined,
    /** Whether the selection is viewer-independent: executed once per event for every member. */
    private readonly shared: boolean,
  ) {
    this.ready = this.start();
    this.ready.catch(() => this.stop());
  }

  /** Subscribes (the group's own stream, live after the head it reads) and the removal watch, then runs the loop. */
  private async start(): Promise<void> {
    const { source } = this;
    // only what is the same for every viewer: no membership check, no end, no per-subscriber metrics.
    // Its reads are wanted while the group has members, not while the socket of the member whose
    // source it borrows is open: that member may leave first, and its gap fill would fail them all
    const wanted = () => this.members.size + this.joining.size > 0;
    const stream = await sequencedStream<T>(
      {
        pubsub: source.pubsub,
        topic: source.topic,
        seqOf: (i) => source.seqOf(i),
        head: () => source.head(wanted),
        load: (a, n) => source.load(a, n, wanted),
      },
      null,
    );
    this.stream = stream;
    this.last = stream.position;
    if (this.removalTopic) this.watch = await source.pubsub.subscribe(this.removalTopic, (e: RoomEventPayload) => this.removed(e), {});
    if (this.stopped) return this.release();
    void this.loop(stream);
  }

  private async loop(stream: SequencedStream<T>): Promise<void> {
    try {
      for (let next = await stream.next(); !next.done; next = await stream.next()) await this.deliver(next.value);
    } catch (err) {
      // the group's stream failed (storage unreachable while filling a gap): every member ends with the error
      this.stop();
      for (const member of [...this.members, ...this.joining]) member.fail(err);
    }
  }

  /**
   * Hands `item` to every member that has not had it: one execution and one JSON for a shared selection.
   * With tracing on and a trace context in the payload (a live event), in one CONSUMER span `delivery`,
   * child of the event's `publish`, with the member count: never a span per member.
   */
  private deliver(item: T): Promise<void> | undefined {
    const seq = this.source.seqOf(item);
    this.last = seq;
    if (this.members.size === 0) return;
    const tracing = this.groups.tracing;
    const parent = tracing?.contextOf(item as TraceCarrier);
    if (!tracing || !parent) return this.handOut(seq, item);
    const attributes = {
      "messaging.operation.type": "process",
      "messaging.destination.name": this.source.topic,
      "chat.event.seq": seq,
      "chat.fanout.members": this.members.size,
    };
    return tracing.inSpan("delivery", { kind: SpanKind.CONSUMER, attributes }, () => this.handOut(seq, item), parent);
  }

  /** {@link deliver}, without its span. */
  private async handOut(seq: number, item: T): Promise<void> {
    let handed = 0;
    if (!this.shared) {
      const offered = await Promise.all(Array.from(this.members, (m) => (m.position < seq ? m.executeAndOffer(seq, item) : false)));
      for (const written of offered) if (written) handed++;
    } else {
      const first = this.members.values().next().value!;
      const json = nextPayloadJson(await first.execute(item));
      for (const member of this.members) if (member.offer(seq, json, item)) handed++;
      this.groups.metrics.sharedExecutions.inc();
      this.groups.metrics.sharedResults.inc(handed);
    }
    // counted once per event: one counter step and one lag sample for the whole group
    if (handed > 0) this.source.delivered?.(item, true, handed);
  }

  /** The removal watch: a MemberLeft ends that viewer's members, a RoomDeleted every member. */
  private removed(event: RoomEventPayload): void {
    for (const member of this.members) if (member.viewerId !== undefined && removes(event, member.viewerId)) member.end();
  }

  /** `member` has caught up: it receives from the group from now on. */
  add(member: Member<T>): void {
    this.joining.delete(member);
    this.members.add(member);
  }

  /** `member` has ended; the last one to go stops the group. */
  leave(member: Member<T>): void {
    this.members.delete(member);
    this.joining.delete(member);
    if (this.members.size === 0 && this.joining.size === 0) this.stop();
  }

  /** Stops the group: forgotten at once (a new subscriber starts a new group), released once started. */
  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.groups.forget(this as FanoutGroup<unknown>);
    if (this.stream) this.release();
  }

  private release(): void {
    void this.stream?.return();
    if (this.watch !== undefined) this.source.pubsub.unsubscribe(this.watch);
    this.watch = undefined;
  }
}

const DONE: IteratorResult<ExecutionResult> = { done: true, value: undefined };

/** One subscription in a group: its socket, its operation, its position in the room's sequence. */
class Member<T> implements AsyncIterableIterator<ExecutionResult> {
  /** Settles when the subscription ends (see the module comment). */
  private readonly ended: Promise<IteratorResult<ExecutionResult>>;
  private settle!: (result: IteratorResult<ExecutionResult>) => void;
  private reject!: (err: unknown) => void;
  private done = false;
  private pulled = false;
  private joined = false;
  /** Its position once joined (its own stream, closed then, no longer moves). */
  private seq = 0;
  /** `{"id":…,"type":"next","payload":`: the start of each of its frames. */
  private readonly frameStart: string;

  constructor(
    private readonly group: FanoutGroup<T>,
    private readonly socket: FanoutSocket,
    private readonly args: ExecutionArgs,
    /** What its resolver returned (the stream, maybe with its removal watch): read until it joins, then returned. */
    private readonly chain: AsyncIterableIterator<T>,
    /** Its own stream, inside `chain`: its position, its source's end rule and metrics. */
    private readonly own: SequencedStream<T>,
    /** Whose removal from the room ends it (messageAdded); undefined when its events end it (roomEvents). */
    readonly viewerId: string | undefined,
    /** Where its executions' arguments are registered (see the plugin's `onExecute`). */
    private readonly executions: WeakSet<object>,
  ) {
    this.frameStart = nextFrameStart(socket.id);
    this.ended = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.reject = reject;
    });
    // a failure before graphql-ws's first next() is not unhandled: next() hands the same promise over
    this.ended.catch(() => {});
  }

  /** The seq of the last event it got (or the cursor it started after). */
  get position(): number {
    return this.joined ? this.seq : this.own.position;
  }

  /** Joins the group now if its own stream has reached the group's position, else reads its own stream until it has. */
  start(): void {
    if (this.position >= this.group.last) this.join();
    else void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    try {
      while (!this.done && this.position < this.group.last) {
        const next = await this.chain.next();
        if (this.done) return;
        if (next.done) return this.end();
        // its own stream counted the delivery (source.delivered)
        this.write(nextPayloadJson(await this.execute(next.value)));
      }
      if (!this.done) this.join();
    } catch (err) {
      this.fail(err);
    }
  }

  private join(): void {
    this.seq = this.own.position;
    this.joined = true;
    this.group.add(this);
    // its own listener and removal watch: the group's serve it from now on
    void this.chain.return?.();
  }

  /** Executes its operation for `item`. */
  execute(item: T): Promise<ExecutionResult> | ExecutionResult {
    return executeEvent(this.socket, this.args, item, this.executions);
  }

  /**
   * Writes the event `item` (seq `seq`, payload JSON `json`) unless it has had it; ends
   * the member after the event if its source says so (roomEvents: its viewer's
   * MemberLeft, RoomDeleted). True if written: the group counts the deliveries.
   */
  offer(seq: number, json: string, item: T): boolean {
    if (seq <= this.position || this.done) return false;
    this.seq = seq;
    this.write(json);
    if (this.own.source.endsWith?.(item)) this.end();
    return true;
  }

  /** For a viewer-dependent selection: executes for this member, then {@link offer}s (true if written). A failure ends this member only. */
  async executeAndOffer(seq: number, item: T): Promise<boolean> {
    try {
      const result = await this.execute(item);
      return this.offer(seq, nextPayloadJson(result), item);
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  private write(json: string): void {
    this.socket.write(`${this.frameStart}${json}}`);
  }

  /** Ends the subscription: graphql-ws sends `complete`. */
  end(): void {
    if (this.finish()) this.settle(DONE);
  }

  /** Ends the subscription with `err`: graphql-ws sends `error`. */
  fail(err: unknown): void {
    if (this.finish()) this.reject(err);
  }

  /** Leaves the group (or stops its own stream); false if it had ended already. */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.group.leave(this);
    if (!this.joined) void this.chain.return?.();
    return true;
  }

  /** The first call: the promise that settles when the subscription ends; later calls: done. */
  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.pulled) return Promise.resolve(DONE);
    this.pulled = true;
    return this.ended;
  }

  /** graphql-ws: the client completed the operation, or the socket closed. */
  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.end();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
