/**
 * What the Apollo and urql example clients have in common: their options and
 * their surface. `C` is the library's client (ApolloClient, or urql's Client).
 */
import { createClient, type Client as WsClient, type ClientOptions as WsOptions } from "graphql-ws";
import type {
  CatchUpQuery,
  FollowMessagesSubscription,
  FollowMyEventsSubscription,
  FollowRoomEventsSubscription,
  LoginInput,
  RegisterInput,
} from "../generated/graphql.js";
import type { CatchUp, CatchUpOptions } from "./catch-up.js";
import type { FollowedStream } from "./resume.js";
import type { TokenStore } from "./tokens.js";

export interface ChatClientOptions {
  /** http(s)://host/graphql */
  httpUrl: string;
  /** ws(s)://host/graphql */
  wsUrl: string;
  /** The WebSocket class, for runtimes without a global one (Node 20: the `ws` package's). */
  webSocketImpl?: unknown;
  /** More graphql-ws options (retryAttempts, retryWait, on, …); connectionParams is ours. */
  ws?: Partial<Omit<WsOptions, "url" | "connectionParams" | "webSocketImpl">>;
}

/** One user's client: `client` for operations and the cache; `tokens` holds the session. */
export interface ChatClient<C> {
  client: C;
  /** The graphql-ws client under the subscriptions. */
  ws: WsClient;
  tokens: TokenStore;
  /** register / login, storing the session's tokens. Reject with the server's errors (the library's error type). */
  register(input: RegisterInput): Promise<{ userId: string }>;
  login(input: LoginInput): Promise<{ userId: string }>;
  /** messageAdded(roomId, after), resumed from the last `seq` after a dropped socket (resume.ts). */
  followMessages(
    roomId: string,
    after: string | null,
    onEvent: (message: FollowMessagesSubscription["messageAdded"]) => void,
    onEnd?: (error?: unknown) => void,
  ): FollowedStream;
  /** roomEvents(roomId, after), resumed from the last `cursor` after a dropped socket (resume.ts). */
  followRoomEvents(
    roomId: string,
    after: string | null,
    onEvent: (event: FollowRoomEventsSubscription["roomEvents"]) => void,
    onEnd?: (error?: unknown) => void,
  ): FollowedStream;
  /**
   * Catch-up (catch-up.ts): sync now and on every reconnect, then myEvents(after:)
   * and messageAdded(after:) of the rooms opened with `openRoom`.
   */
  catchUp(handlers: CatchUpHandlers): CatchUp;
  /** Stops the client and closes its socket. */
  dispose(): Promise<void>;
}

/** What the caller of {@link ChatClient.catchUp} gives: its handlers, and where to start (`since`: the last cursor kept). */
export type CatchUpHandlers = Pick<
  CatchUpOptions<CatchUpQuery["sync"], FollowMyEventsSubscription["myEvents"], FollowMessagesSubscription["messageAdded"]>,
  "onSync" | "onEvent" | "onMessage" | "onError" | "since" | "retryMs"
>;

/**
 * The graphql-ws client under both example clients' subscriptions: up to 10
 * reconnects (more with `options.ws`), and `connection_init` carrying the access
 * token current at each (re)connect, refreshed first when it is about to expire.
 */
export function chatSocket(options: ChatClientOptions, tokens: TokenStore): WsClient {
  return createClient({
    url: options.wsUrl,
    webSocketImpl: options.webSocketImpl,
    retryAttempts: 10,
    ...options.ws,
    connectionParams: async () => {
      const authorization = await tokens.fresh();
      return authorization ? { authorization } : {};
    },
  });
}
