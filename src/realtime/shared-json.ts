/**
 * Serializing a shared subscription result once per node, not once per socket.
 *
 * graphql-ws builds every outgoing message as `JSON.stringify({ id, type, payload })`
 * (its `stringifyMessage`) and hands the string straight to the socket's `send`, in
 * the same synchronous step. For a result marked with {@link markShared}
 * (realtime/shared-execution.ts), our `onNext` hands graphql-ws {@link sharedPayload}'s
 * stand-in as the payload: when JSON.stringify reaches it, its `toJSON` leaves the
 * result's JSON (computed on first use, then cached with the result) in the socket's
 * {@link PayloadSlot} and puts {@link PLACEHOLDER} in the message, so JSON.stringify
 * never walks the result. The socket's `send` (ws-server.ts) then calls
 * {@link spliceSharedJson}, which puts that JSON back where the placeholder is.
 * The bytes on the wire are the ones graphql-ws would send without either:
 * `{"id":…,"type":"next","payload":X}` is `{"id":…,"type":"next","payload":` + JSON(X) + `}`,
 * since `payload` is the message's last key (test/ws-server.test.ts compares frames
 * with graphql-ws's own). Any other payload (per-viewer results, results with errors,
 * other messages) is serialized by graphql-ws as usual and passes unchanged.
 * Node 20 has no `JSON.rawJSON`, hence the splice.
 */
import type { ExecutionResult, FormattedExecutionResult } from "graphql";

/** What a shared payload is serialized as, until {@link spliceSharedJson} replaces it. */
const PLACEHOLDER = "\u0000payload";
/** How a message with the placeholder as its payload ends: the quoted placeholder and the message's closing brace. */
const TAIL = `${JSON.stringify(PLACEHOLDER)}}`;

/** Results one execution handed to every subscriber of a document on this node → their JSON once serialized (null before). */
const sharedJson = new WeakMap<object, string | null>();

/**
 * One socket's hand-over between the serialization of a message and its `send`:
 * the JSON of the shared payload in the message being sent, if any.
 */
export interface PayloadSlot {
  json?: string;
}

/**
 * Marks `result` as handed unchanged to many subscribers: its JSON is computed once,
 * on the first socket that sends it. The result must not be mutated afterwards.
 */
export function markShared(result: ExecutionResult): void {
  if (!sharedJson.has(result)) sharedJson.set(result, null);
}

/** The stand-in for a shared result in a graphql-ws message; see the module comment. */
class SharedPayload {
  constructor(
    private readonly result: ExecutionResult,
    private readonly slot: PayloadSlot,
  ) {}

  /** Called by JSON.stringify for the message's `payload`: the result's JSON goes to the slot, the placeholder into the message. */
  toJSON(): string {
    this.slot.json = jsonOf(this.result);
    return PLACEHOLDER;
  }
}

/**
 * graphql-ws' `onNext` for a socket whose `send` splices with `slot`: for a shared
 * result without errors, the payload graphql-ws must put in the `next` message (a
 * stand-in serialized by {@link spliceSharedJson}); for anything else undefined,
 * which lets graphql-ws build its own payload (`{ ...result }`, `errors` converted
 * with `toJSON()`).
 */
export function sharedPayload(result: ExecutionResult, slot: PayloadSlot): FormattedExecutionResult | undefined {
  return sharedJson.has(result) && !result.errors ? (new SharedPayload(result, slot) as FormattedExecutionResult) : undefined;
}

/**
 * The start of every `next` frame graphql-ws sends for operation `id`:
 * `{"id":<id as JSON>,"type":"next","payload":`. The frame is this, the payload's
 * JSON ({@link nextPayloadJson}) and `}`: the bytes of graphql-ws's
 * `stringifyMessage({ id, type: "next", payload })` (realtime/fanout.ts writes frames so).
 */
export function nextFrameStart(id: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
}

/**
 * The JSON of the payload graphql-ws puts in a `next` message for `result`: `result`
 * itself when it has no errors, else `{ ...rest, errors }` (errors last, through
 * `toJSON()`), as graphql-ws's `emit.next` builds it.
 */
export function nextPayloadJson(result: ExecutionResult): string {
  if (!result.errors) return JSON.stringify(result);
  const { errors, ...rest } = result;
  return JSON.stringify({ ...rest, errors: errors.map((e) => e.toJSON()) });
}

/** The JSON of a shared `result`, computed on first use and cached with it. */
function jsonOf(result: ExecutionResult): string {
  let json = sharedJson.get(result);
  if (json == null) sharedJson.set(result, (json = nextPayloadJson(result)));
  return json;
}

/**
 * The frame to write for `frame`, the string graphql-ws just serialized for a socket:
 * with the shared payload's JSON waiting in `slot` (taken out), `frame` with that JSON
 * in place of the placeholder; otherwise `frame` itself.
 * @throws Error if the slot holds JSON but `frame` does not end with the placeholder
 *   (graphql-ws did not send the message it serialized last: a bug, not input).
 */
export function spliceSharedJson(frame: string, slot: PayloadSlot): string {
  const json = slot.json;
  if (json === undefined) return frame;
  slot.json = undefined;
  if (!frame.endsWith(TAIL)) throw new Error("shared-json: the frame sent is not the message serialized with the shared payload");
  return `${frame.slice(0, -TAIL.length)}${json}}`;
}
