import { mapAsyncIterator } from "@whatwg-node/promise-helpers";
import {
  BREAK,
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type GraphQLSchema,
  getOperationAST,
  getVariableValues,
  print,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Metrics } from "../metrics.js";
import { markShared } from "./shared-json.js";

/**
 * Fields whose value is the same for every viewer allowed to see the event
 * (`Type: [field, …]`). A subscription whose selection uses only these (and
 * `__typename`) is executed once per event per node, not once per subscriber.
 * Left out on purpose, because they depend on who asks: Message.reactions
 * (viewerHasReacted), readBy, deliveryState, attachments (URLs signed for the
 * viewer); Room.unreadCount, viewerMembership, lastMessage, members; User.email, emailVerified,
 * phoneNumber, settings, status, lastSeenAt (privacy: blocks, showOnlineStatus).
 * A field not listed here is never shared, so a new field is safe by default.
 */
export const VIEWER_INDEPENDENT_FIELDS: Record<string, readonly string[]> = {
  // myEvents: only selections of RoomActivity's fields qualify; its events are objects per (count, mute), not per viewer
  Subscription: ["messageAdded", "typing", "presence", "roomEvents", "myEvents"],
  Message: [
    "id",
    "seq",
    "type",
    "room",
    "sender",
    "content",
    "createdAt",
    "editedAt",
    "edits",
    "deletedAt",
    "clientMessageId",
    "replyTo",
    "threadRoot",
    "threadReplyCount",
    "threadLastReplyAt",
    "pinnedAt",
    "pinnedBy",
    "expiresAt",
    "mentions",
  ],
  MessageEdit: ["content", "editedAt"],
  User: ["id", "username", "firstName", "lastName", "displayName", "avatar", "bio", "language", "timezone", "createdAt"],
  Room: ["id", "name", "type", "description", "avatar", "maxMembers", "createdAt"],
  // typing and presence events are filtered per viewer before execution (roomTopic); their fields are plain values
  TypingEvent: ["roomId", "user", "isTyping"],
  PresenceEvent: ["user", "status", "lastSeenAt"],
  SequencedEvent: ["seq", "cursor", "at"],
  MemberJoined: ["seq", "cursor", "at", "roomId", "user", "role", "addedBy", "invitedBy"],
  MemberLeft: ["seq", "cursor", "at", "roomId", "user", "reason", "removedBy"],
  MemberRoleChanged: ["seq", "cursor", "at", "roomId", "user", "role", "previousRole", "changedBy"],
  RoomUpdated: ["seq", "cursor", "at", "room", "updatedBy"],
  RoomDeleted: ["seq", "cursor", "at", "roomId", "deletedBy"],
  MessageAdded: ["seq", "cursor", "at", "message"],
  MessageEdited: ["seq", "cursor", "at", "message"],
  MessageDeleted: ["seq", "cursor", "at", "message", "deletedBy"],
  MessageExpired: ["seq", "cursor", "at", "message"],
  ReactionAdded: ["seq", "cursor", "at", "message", "user", "emoji"],
  ReactionRemoved: ["seq", "cursor", "at", "message", "user", "emoji"],
  ReadReceipt: ["seq", "cursor", "at", "user", "message"],
  DeliveryReceipt: ["seq", "cursor", "at", "user", "upToSeq"],
  MessagePinned: ["seq", "cursor", "at", "message", "pinned", "by"],
  RoomActivity: ["roomId", "room", "lastMessage", "unreadCount", "at"],
};

const shared = new Map(Object.entries(VIEWER_INDEPENDENT_FIELDS).map(([type, fields]) => [type, new Set(fields)]));

const shareableDocuments = new WeakMap<DocumentNode, boolean>();

/** Whether every field `document` selects is in {@link VIEWER_INDEPENDENT_FIELDS} (memoized per parsed document). */
export function isViewerIndependent(schema: GraphQLSchema, document: DocumentNode): boolean {
  let known = shareableDocuments.get(document);
  if (known === undefined) {
    known = true;
    const typeInfo = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          if (node.name.value === "__typename") return;
          const parent = typeInfo.getParentType();
          if (parent && shared.get(parent.name)?.has(node.name.value)) return;
          known = false;
          return BREAK;
        },
      }),
    );
    shareableDocuments.set(document, known);
  }
  return known;
}

/** A per-document id, so equal documents parsed apart share one key (print once per parsed document). */
const documentKeys = new WeakMap<DocumentNode, string>();
const documentKey = (document: DocumentNode): string => {
  let key = documentKeys.get(document);
  if (key === undefined) documentKeys.set(document, (key = print(document)));
  return key;
};

/**
 * The key of an operation's execution: its document (printed once per parsed
 * document), operation name and variables as JSON. Operations with equal keys
 * give equal results for the same event, when viewer-independent.
 */
export function executionKey(args: Pick<ExecutionArgs, "document" | "operationName" | "variableValues">): string {
  return `${documentKey(args.document)}\n${args.operationName ?? ""}\n${JSON.stringify(args.variableValues ?? {})}`;
}

/**
 * Whether `args` names one operation of its document and its variables coerce without
 * errors. Paths that execute an operation their own way leave the others to graphql-js,
 * so that errors keep its shape.
 */
export function variablesValid(args: ExecutionArgs): boolean {
  const operation = getOperationAST(args.document, args.operationName);
  const variables = operation && getVariableValues(args.schema, operation.variableDefinitions ?? [], args.variableValues ?? {});
  return Boolean(variables && !variables.errors);
}

/** event (the object the pub/sub handed every listener on this node) → execution key → its result. */
const resultsByEvent = new WeakMap<object, Map<string, Promise<ExecutionResult> | ExecutionResult>>();

/**
 * The result of `run` for (`event`, `key`), run once: later callers with the same
 * event object and key get the same result. Counted in `metrics` (executions, results).
 */
function once(metrics: Metrics, event: unknown, key: string, run: () => Promise<ExecutionResult> | ExecutionResult) {
  metrics.sharedResults.inc();
  if (typeof event !== "object" || event === null) {
    metrics.sharedExecutions.inc();
    return run();
  }
  let results = resultsByEvent.get(event);
  if (!results) resultsByEvent.set(event, (results = new Map()));
  let result = results.get(key);
  if (!result) {
    metrics.sharedExecutions.inc();
    result = run();
    results.set(key, result);
    if (!(result instanceof Promise)) markShared(result);
    else {
      // once done, later subscribers get the result itself: no promise hop each
      result.then(
        (done) => {
          markShared(done);
          results.set(key, done);
        },
        () => {},
      );
    }
  }
  return result;
}

/**
 * An envelop (Yoga) plugin: a subscription whose selection is viewer-independent
 * ({@link isViewerIndependent}) has each event executed once per node for all its
 * subscribers with the same document, operation name and variables, instead of
 * once per subscriber; they are all handed the same result object, which is
 * serialized once too (realtime/shared-json.ts). Sharing needs no coordination: the pub/sub
 * hands every listener on the node the same parsed event object (Redis message
 * or in-process payload), which keys the memo, so a result lives as long as the
 * event is referenced. Per-subscriber work stays per subscriber: authorization
 * and membership in `subscribe`, filtering, replay after `after`, ending on removal.
 * The execution runs with the context of the first subscriber to reach the
 * event, which is why only viewer-independent fields qualify.
 * Variable errors are left to the normal path, so they keep its error shape.
 */
export function useSharedSubscriptionExecution(metrics: Metrics): Plugin {
  return {
    onSubscribe: ({ args, subscribeFn, setSubscribeFn }) => {
      if (!isViewerIndependent(args.schema, args.document)) return;
      setSubscribeFn(async (args: ExecutionArgs) => {
        if (!variablesValid(args)) return subscribeFn(args);
        const stream = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in stream)) return stream;
        const key = executionKey(args);
        return mapAsyncIterator(stream, (event) => once(metrics, event, key, () => execute({ ...args, rootValue: event })));
      });
    },
  };
}
