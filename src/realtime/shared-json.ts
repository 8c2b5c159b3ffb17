/**
 * Serializing a shared subscription result once per node, not once per socket.
 *
 * graphql-ws builds every outgoing message as `JSON.stringify({ id, type, payload }, jsonMessageReplacer)`
 * and hands the string to the socket. With {@link payloadReplacer} as that replacer,
 * the top-level `payload` (always the message's last key) comes out as the string
 * {@link PLACEHOLDER}, so JSON.stringify never walks the result, and its JSON is held
 * aside: cached per result object for results marked with {@link markShared}
 * (realtime/shared-execution.ts), `JSON.stringify(payload)` for anything else.
 * {@link spliceSharedJson}'s `send` puts that JSON back where the placeholder is.
 * The bytes on the wire are the same as without either: `{"a":X}` is `{"a":` + JSON(X) + `}`
 * (test/shared-execution.test.ts compares frames). graphql-ws calls `socket.send`
 * synchronously right after serializing (graphql-ws/use/ws), so the held JSON is the
 * one of the message being sent; a message that is not sent (socket no longer open)
 * leaves it to be replaced by the next one.
 */
import type { ExecutionResult } from "graphql";
import type { WebSocket } from "ws";

/** What the message's `payload` is serialized as, until {@link spliceSharedJson} replaces it. */
const PLACEHOLDER = "\u0000payload";
/** How a message serialized by {@link payloadReplacer} ends: the quoted placeholder and the message's closing brace. */
const TAIL = `${JSON.stringify(PLACEHOLDER)}}`;

/** Results one execution handed to every subscriber of a document on this node → their JSON once serialized (null before). */
const sharedJson = new WeakMap<object, string | null>();

/** The JSON of the payload last replaced by {@link payloadReplacer}, waiting for its message's `send`. */
let held: string | undefined;

/**
 * Marks `result` as handed unchanged to many subscribers: its JSON is computed once,
 * on the first socket that sends it. The result must not be mutated afterwards.
 */
export function markShared(result: ExecutionResult): void {
  if (!sharedJson.has(result)) sharedJson.set(result, null);
}

/**
 * graphql-ws' `onNext`: a shared result without errors is sent as is (graphql-ws
 * otherwise sends a per-socket copy `{ ...result }`, which has the same JSON but not
 * the same identity, so it would not find the cached JSON). Anything else: undefined,
 * graphql-ws's own payload (it converts `errors` with `toJSON()`).
 */
export function sharedPayload(result: ExecutionResult): ExecutionResult | undefined {
  return sharedJson.has(result) && !result.errors ? result : undefined;
}

/** graphql-ws' `jsonMessageReplacer`: holds the top-level `payload`'s JSON aside and puts {@link PLACEHOLDER} in its place. */
export function payloadReplacer(key: string, value: unknown): unknown {
  if (key !== "payload" || value === undefined) return value;
  held = jsonOf(value);
  return PLACEHOLDER;
}

/** The JSON of `value`: for a shared result, computed on first use and cached with it. */
function jsonOf(value: unknown): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  const cached = sharedJson.get(value);
  if (cached === undefined) return JSON.stringify(value);
  if (cached !== null) return cached;
  const json = JSON.stringify(value);
  sharedJson.set(value, json);
  return json;
}

/**
 * Wraps `socket.send` so a message serialized with {@link payloadReplacer} goes out
 * with its payload's JSON in place of the placeholder. Call it from a `connection`
 * listener registered before graphql-ws's `useServer`. Other frames pass unchanged.
 */
export function spliceSharedJson(socket: WebSocket): void {
  const send = socket.send.bind(socket);
  socket.send = ((data: Parameters<WebSocket["send"]>[0], ...rest: [never]) => {
    if (typeof data === "string" && held !== undefined && data.endsWith(TAIL)) {
      data = `${data.slice(0, -TAIL.length)}${held}}`;
      held = undefined;
    }
    return send(data, ...rest);
  }) as WebSocket["send"];
}
