/**
 * What the Apollo and urql example clients have in common: their options and
 * their surface. `C` is the library's client (ApolloClient, or urql's Client).
 */
import { type ClientOptions as WsOptions, type Client as WsClient, createClient } from "graphql-ws";
import type { FollowMessagesSubscription, FollowRoomEventsSubscription, LoginInput, RegisterInput } from "../generated/graphql.js";
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
  followMessages(roomId: string, after: string | null, onEvent: (message: FollowMessagesSubscription["messageAdded"]) => void, onEnd?: (error?: unknown) => void): FollowedStream;
  /** roomEvents(roomId, after), resumed from the last `cursor` after a dropped socket (resume.ts). */
  followRoomEvents(roomId: string, after: string | null, onEvent: (event: FollowRoomEventsSubscription["roomEvents"]) => void, onEnd?: (error?: unknown) => void): FollowedStream;
  /** Stops the client and closes its socket. */
  dispose(): Promise<void>;
}

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
