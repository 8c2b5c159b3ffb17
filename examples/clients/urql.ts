/**
 * A urql client (@urql/core, no React) for the chat API, as an example and for
 * the client tests (test/clients.test.ts): queries and mutations over HTTP with
 * urql's document cache, subscriptions over graphql-ws, each sent by its hash
 * among the trusted documents (trusted-documents.ts); @urql/exchange-auth
 * refreshes an expired access token once and retries the operation; followed
 * streams resume after a dropped socket. Operations are the typed documents of
 * `npm run codegen`.
 *
 *   const chat = createUrqlChat({ httpUrl, wsUrl, webSocketImpl: WebSocket });
 *   await chat.login({ username, password }); // or { email, password }
 *   const { data } = await chat.client.query(MyRoomsDocument, {}).toPromise();
 */

import { Client, type CombinedError, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { persistedExchange } from "@urql/exchange-persisted";
import { onEnd, pipe, subscribe } from "wonka";
import {
  CatchUpDocument,
  FollowMessagesDocument,
  FollowMyEventsDocument,
  FollowRoomEventsDocument,
  LoginDocument,
  RefreshTokenDocument,
  RegisterDocument,
} from "../generated/graphql.js";
import { catchUp, isExpiredCursor } from "./catch-up.js";
import { type ChatClient, type ChatClientOptions, chatSocket } from "./chat.js";
import { follow } from "./resume.js";
import { isUnauthenticated, type TokenPair, TokenStore } from "./tokens.js";
import { trustedHash } from "./trusted-documents.js";

export type UrqlChatOptions = ChatClientOptions;

/** One user's Urql client (chat.ts). */
export type UrqlChat = ChatClient<Client>;

/**
 * Makes an {@link UrqlChat}. Exchanges: cacheExchange (document cache: a mutation
 * result invalidates the cached queries that hold one of its typenames) →
 * authExchange (Bearer header; on a GraphQL error with `extensions.code`
 * UNAUTHENTICATED one refreshToken mutation, shared by concurrent failures, then
 * the operation once more; if the refresh is refused the tokens are cleared and
 * the retry fails UNAUTHENTICATED) → persistedExchange (every operation by its
 * hash alone, `extensions.persistedQuery`, queries as GET when they fit a URL; on
 * PersistedQueryNotFound it is sent again with its text, after
 * PersistedQueryNotSupported every operation goes as text, and an operation that is
 * not among the trusted documents goes as text) → fetchExchange,
 * subscriptionExchange (graphql-ws; connection_init carries the access token
 * current at (re)connect time, refreshed first when it is about to expire).
 */
export function createUrqlChat(options: UrqlChatOptions): UrqlChat {
  // set by authExchange's initializer: a mutation that bypasses the auth exchange
  let exchangeRefresh: ((refreshToken: string) => Promise<TokenPair>) | undefined;
  const tokens = new TokenStore((refreshToken) => {
    if (!exchangeRefresh) throw new Error("urql client not started");
    return exchangeRefresh(refreshToken);
  });

  const ws = chatSocket(options, tokens);

  const client = new Client({
    url: options.httpUrl,
    // urql sends queries as GET when they fit in a URL: GETs must carry the server's CSRF header
    fetchOptions: { headers: { "x-graphql-yoga-csrf": "1" } },
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => {
        exchangeRefresh = async (refreshToken) => {
          const result = await utils.mutate(RefreshTokenDocument, { refreshToken });
          if (!result.data) throw result.error ?? new Error("refreshToken: no data");
          return result.data.refreshToken;
        };
        return {
          addAuthToOperation: (operation) => {
            const authorization = tokens.authorization();
            return authorization ? utils.appendHeaders(operation, { authorization }) : operation;
          },
          didAuthError: (error: CombinedError) => tokens.pair !== null && isUnauthenticated(error.graphQLErrors),
          refreshAuth: async () => {
            await tokens.refresh().catch(() => undefined);
          },
        };
      }),
      persistedExchange({
        generateHash: async (_text, document) => trustedHash(document) ?? "",
        enableForMutation: true,
        enableForSubscriptions: true,
      }),
      fetchExchange,
      subscriptionExchange({
        // without the text while the hash alone is sent (`query` undefined); graphql-ws wants a string
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });

  const signedIn = (payload: TokenPair & { user: { id: string } }) => {
    tokens.set({ accessToken: payload.accessToken, refreshToken: payload.refreshToken, expiresAt: payload.expiresAt });
    return { userId: payload.user.id };
  };

  /** Runs a typed urql subscription as a resume.ts stream: a result with an error ends it. */
  const open =
    <T>(source: (after: string | null) => ReturnType<typeof client.subscription<T>>) =>
    (after: string | null, sink: { next(data: T): void; error(error: unknown): void; complete(): void }) => {
      const { unsubscribe } = pipe(
        source(after),
        onEnd(() => sink.complete()),
        subscribe((result) => (result.error ? sink.error(result.error) : result.data && sink.next(result.data))),
      );
      return unsubscribe;
    };

  return {
    client,
    ws,
    tokens,
    async register(input) {
      const result = await client.mutation(RegisterDocument, { input }).toPromise();
      if (!result.data) throw result.error;
      return signedIn(result.data.register);
    },
    async login(input) {
      const result = await client.mutation(LoginDocument, { input }).toPromise();
      if (!result.data) throw result.error;
      return signedIn(result.data.login);
    },
    followMessages(roomId, after, onEvent, onEnd) {
      const stream = open((after) => client.subscription(FollowMessagesDocument, { roomId, after }));
      return follow({
        ws,
        after,
        open: (after, sink) => stream(after, { ...sink, next: (data) => sink.next(data.messageAdded) }),
        position: (m) => String(m.seq),
        onEvent,
        onEnd,
      });
    },
    followRoomEvents(roomId, after, onEvent, onEnd) {
      const stream = open((after) => client.subscription(FollowRoomEventsDocument, { roomId, after }));
      return follow({
        ws,
        after,
        open: (after, sink) => stream(after, { ...sink, next: (data) => sink.next(data.roomEvents) }),
        position: (e) => e.cursor,
        onEvent,
        onEnd,
      });
    },
    catchUp(handlers) {
      const myEvents = open((after) => client.subscription(FollowMyEventsDocument, { after }));
      return catchUp({
        ...handlers,
        ws,
        sync: async (since) => {
          // network-only: a sync is a question about now, never answered from the document cache
          const result = await client.query(CatchUpDocument, { since }, { requestPolicy: "network-only" }).toPromise();
          if (!result.data) throw result.error;
          return result.data.sync;
        },
        expired: (error) => isExpiredCursor((error as CombinedError | undefined)?.graphQLErrors ?? []),
        openMyEvents: (after, sink) => myEvents(after, { ...sink, next: (data) => sink.next(data.myEvents) }),
        openMessages: (roomId) => {
          const stream = open((after) => client.subscription(FollowMessagesDocument, { roomId, after }));
          return (after, sink) => stream(after, { ...sink, next: (data) => sink.next(data.messageAdded) });
        },
      });
    },
    async dispose() {
      await ws.dispose();
    },
  };
}
