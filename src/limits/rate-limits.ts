import { type ExecutionArgs, type FragmentDefinitionNode, getArgumentValues, getOperationAST, Kind } from "graphql";
import { collectFields } from "graphql/execution/collectFields.js";
import type { Plugin } from "graphql-yoga";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Config } from "../config.js";
import type { App, Context } from "../context.js";
import { rateLimited } from "../errors.js";

/** The configuration variables that hold a rate-limit rule (`<points>/<seconds>`). */
type LimitName =
  | "RATE_LIMIT_SEND_MESSAGE"
  | "RATE_LIMIT_SET_TYPING"
  | "RATE_LIMIT_UPLOAD"
  | "RATE_LIMIT_LOGIN_IP"
  | "RATE_LIMIT_LOGIN_ACCOUNT"
  | "RATE_LIMIT_REGISTER_IP"
  | "RATE_LIMIT_REPORT"
  | "RATE_LIMIT_PASSWORD_RESET_IP"
  | "RATE_LIMIT_PASSWORD_RESET_ACCOUNT"
  | "RATE_LIMIT_PASSWORD_CHECK"
  | "RATE_LIMIT_VERIFICATION_MAIL";

/** One call of a limited mutation: its context, and its arguments (read on demand). */
interface Call {
  context: Context;
  args(): Record<string, unknown>;
}

/** Who a call counts against: the viewer, the client IP, the account asked for; undefined: the rule does not apply. */
const by = {
  user: (call: Call) => call.context.viewer?.userId,
  ip: (call: Call) => call.context.clientIp,
  account: (call: Call) => {
    const input = call.args().input as { email?: unknown; username?: unknown } | undefined;
    const account = input?.email ?? input?.username;
    return typeof account === "string" ? account.trim().toLowerCase() : undefined;
  },
  /** The `email` argument (requestPasswordReset), case-folded, whether or not an account has it. */
  email: (call: Call) => {
    const email = call.args().email;
    return typeof email === "string" ? email.trim().toLowerCase() : undefined;
  },
};

/**
 * Mutation → the limits each call of it counts against (defaults and their sources
 * in config.ts). Calls without a viewer count against no per-user limit: the
 * resolver refuses them with UNAUTHENTICATED anyway.
 */
const RULES: Record<string, { limit: LimitName; key: (call: Call) => string | undefined }[]> = {
  sendMessage: [{ limit: "RATE_LIMIT_SEND_MESSAGE", key: by.user }],
  setTyping: [{ limit: "RATE_LIMIT_SET_TYPING", key: by.user }],
  uploadAttachment: [{ limit: "RATE_LIMIT_UPLOAD", key: by.user }],
  uploadAttachmentFromUrl: [{ limit: "RATE_LIMIT_UPLOAD", key: by.user }],
  login: [
    { limit: "RATE_LIMIT_LOGIN_IP", key: by.ip },
    { limit: "RATE_LIMIT_LOGIN_ACCOUNT", key: by.account },
  ],
  register: [{ limit: "RATE_LIMIT_REGISTER_IP", key: by.ip }],
  // one limit for both: a reporter's reports of messages and of users fill the same queues
  reportMessage: [{ limit: "RATE_LIMIT_REPORT", key: by.user }],
  reportUser: [{ limit: "RATE_LIMIT_REPORT", key: by.user }],
  // its password check: guesses with a stolen access token count like login guesses at the account
  deleteAccount: [{ limit: "RATE_LIMIT_LOGIN_ACCOUNT", key: by.user }],
  requestPasswordReset: [
    { limit: "RATE_LIMIT_PASSWORD_RESET_IP", key: by.ip },
    { limit: "RATE_LIMIT_PASSWORD_RESET_ACCOUNT", key: by.email },
  ],
  changePassword: [{ limit: "RATE_LIMIT_PASSWORD_CHECK", key: by.user }],
  changeEmail: [{ limit: "RATE_LIMIT_PASSWORD_CHECK", key: by.user }],
  requestEmailVerification: [{ limit: "RATE_LIMIT_VERIFICATION_MAIL", key: by.user }],
};

/**
 * The rate limits, as one envelop plugin in Yoga's list, so they hold over HTTP,
 * SSE and graphql-ws alike. Before a mutation executes, every root field of it
 * (aliases and fragments included, as graphql-js collects them) that {@link RULES}
 * lists takes one point from each of its limits; if any limit is used up, the whole
 * operation is refused before anything runs (nothing is written) with
 * RATE_LIMITED and `extensions.retryAfter` in whole seconds (≥ 1). Refused calls
 * count too. Queries and subscriptions are not limited.
 *
 * Counters: rate-limiter-flexible's RateLimiterRedis on the app's Redis connection
 * (keys `<REDIS_KEY_PREFIX>rl:<limit>:<key>`), so all nodes share them, with a
 * per-node RateLimiterMemory as its insurance while Redis fails; RateLimiterMemory
 * alone without Redis (the single-node embedded default). A sliding window would
 * be exact, but rate-limiter-flexible has none, only its fixed window that starts
 * at a key's first call (so windows of different users do not reset together). A
 * fixed window lets up to twice the points through across one window boundary; we
 * take that over a sliding-log of our own, since the library is atomic (one Lua
 * script per call), well kept and tested across stores. When RATE_LIMITS is "off",
 * a plugin that does nothing.
 */
export function useRateLimits(app: App): Plugin {
  if (app.config.RATE_LIMITS === "off") return {};
  const limiters = new Map(Object.values(RULES).flatMap((rules) => rules.map(({ limit }) => [limit, makeLimiter(app, limit)] as const)));
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const charges = chargesOf(args).map(({ limit, key }) => limiters.get(limit)!.consume(key));
      let waitMs = -1;
      for (const outcome of await Promise.allSettled(charges)) {
        if (outcome.status === "fulfilled") continue;
        if (!(outcome.reason instanceof RateLimiterRes)) throw outcome.reason;
        waitMs = Math.max(waitMs, outcome.reason.msBeforeNext);
      }
      if (waitMs >= 0) setResultAndStopExecution({ errors: [rateLimited(Math.max(1, Math.ceil(waitMs / 1000)))] });
    },
  };
}

/** The counter of one limit: shared through Redis when the app has it, else in this process. */
function makeLimiter(app: App, limit: LimitName): RateLimiterAbstract {
  const { points, durationS: duration } = app.config[limit] as Config[LimitName];
  const memory = new RateLimiterMemory({ points, duration });
  return app.redis
    ? new RateLimiterRedis({ storeClient: app.redis, keyPrefix: `rl:${limit}`, points, duration, insuranceLimiter: memory })
    : memory;
}

/** The (limit, key) pairs a mutation's root fields count against; none for other operations. */
function chargesOf(args: ExecutionArgs): { limit: LimitName; key: string }[] {
  const operation = getOperationAST(args.document, args.operationName);
  const mutation = args.schema.getMutationType();
  if (operation?.operation !== "mutation" || !mutation) return [];
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of args.document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const variables = args.variableValues ?? {};
  const fields = collectFields(args.schema, fragments, variables, mutation, operation.selectionSet);
  return [...fields.values()].flatMap(([node]) => {
    const field = mutation.getFields()[node!.name.value];
    // bad arguments: no key; execution answers them with its own error
    const argsOf = () => {
      try {
        return field ? getArgumentValues(field, node!, variables) : {};
      } catch {
        return {};
      }
    };
    const call: Call = { context: args.contextValue as Context, args: argsOf };
    return (RULES[node!.name.value] ?? []).flatMap(({ limit, key }) => {
      const value = key(call);
      return value === undefined ? [] : [{ limit, key: value }];
    });
  });
}
