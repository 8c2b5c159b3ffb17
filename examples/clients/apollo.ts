/**
 * An Apollo Client (core, no React) for the chat API, as an example and for the
 * client tests (test/clients.test.ts): queries and mutations over HTTP,
 * subscriptions over graphql-ws, split by operation type, each sent by its hash
 * among the trusted documents (trusted-documents.ts); an expired access token
 * is refreshed once and the operation retried; followed streams resume after a
 * dropped socket. Operations are the typed documents of `npm run codegen`.
 *
 *   const chat = createApolloChat({ httpUrl, wsUrl, webSocketImpl: WebSocket });
 *   await chat.login({ username, password }); // or { email, password }
 *   const { data } = await chat.client.query({ query: MyRoomsDocument });
 */
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, split } from "@apollo/client/core";
import { ErrorLink } from "@apollo/client/link/error";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { getOperationAST } from "graphql";
import type { Client as WsClient } from "graphql-ws";
import { catchError, from, switchMap, throwError } from "rxjs";
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

export type ApolloChatOptions = ChatClientOptions;

/** One user's Apollo client (chat.ts). */
export type ApolloChat = ChatClient<ApolloClient>;

/** Operation context flags of this module. */
interface AuthContext {
  /** The refreshToken call itself: no Authorization header, no refresh on its errors. */
  skipAuth?: boolean;
  /** Already retried after a refresh: a second UNAUTHENTICATED is the caller's. */
  refreshed?: boolean;
}

/**
 * Makes an {@link ApolloChat}. Link chain: ErrorLink (on a GraphQL error with
 * `extensions.code` UNAUTHENTICATED: one refreshToken mutation, shared by
 * concurrent failures, then the operation once more; if the refresh is refused
 * the original error stands and the tokens are cleared) → auth (Bearer header) →
 * PersistedQueryLink (the operation's hash alone, `extensions.persistedQuery`; on
 * PersistedQueryNotFound it is sent again with its text, and after
 * PersistedQueryNotSupported every operation goes as text; an operation that is not
 * among the trusted documents fails) → split: subscriptions to graphql-ws, the rest
 * to HTTP. The socket's connection_init carries the access token current at
 * (re)connect time, refreshed first when it is about to expire.
 */
export function createApolloChat(options: ApolloChatOptions): ApolloChat {
  // eslint-disable-next-line prefer-const -- the refresh exchange needs the client made below
  let client: ApolloClient;
  const tokens = new TokenStore(async (refreshToken) => {
    const { data } = await client.mutate({
      mutation: RefreshTokenDocument,
      variables: { refreshToken },
      context: { skipAuth: true } satisfies AuthContext,
      fetchPolicy: "no-cache",
    });
    return data!.refreshToken;
  });

  const ws = chatSocket(options, tokens);

  const auth = new ApolloLink((operation, forward) => {
    const { skipAuth } = operation.getContext() as AuthContext;
    const authorization = skipAuth ? undefined : tokens.authorization();
    if (authorization)
      operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({ headers: { ...headers, authorization } }));
    return forward(operation);
  });

  const refreshOnUnauthenticated = new ErrorLink(({ error, operation, forward }) => {
    const context = operation.getContext() as AuthContext;
    if (context.skipAuth || context.refreshed || !CombinedGraphQLErrors.is(error) || !isUnauthenticated(error.errors)) return;
    if (!tokens.pair) return;
    return from(tokens.refresh()).pipe(
      catchError(() => throwError(() => error)),
      switchMap(() => {
        operation.setContext({ refreshed: true } satisfies AuthContext);
        return forward(operation);
      }),
    );
  });

  const persisted = new PersistedQueryLink({
    generateHash: (document) =>
      trustedHash(document) ??
      Promise.reject(new Error(`${getOperationAST(document)?.name?.value ?? "An anonymous operation"} is not among the trusted documents`)),
  });

  const transport = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    // per operation: whether the persisted-query link sends its text (HttpLink reads the same flag)
    new ApolloLink((operation) =>
      new GraphQLWsLink(forSocket(ws, (operation.getContext() as HttpContext).http?.includeQuery !== false)).request(operation),
    ),
    new HttpLink({ uri: options.httpUrl }),
  );

  client = new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.from([refreshOnUnauthenticated, auth, persisted, transport]) });

  const signedIn = (payload: TokenPair & { user: { id: string } }) => {
    tokens.set({ accessToken: payload.accessToken, refreshToken: payload.refreshToken, expiresAt: payload.expiresAt });
    return { userId: payload.user.id };
  };

  /** Runs a typed subscription through Apollo as a resume.ts stream. */
  const open =
    <T>(subscribe: (after: string | null) => ReturnType<typeof client.subscribe<T>>) =>
    (after: string | null, sink: { next(data: T): void; error(error: unknown): void; complete(): void }) => {
      const subscription = subscribe(after).subscribe({
        next: (result) => (result.error ? sink.error(result.error) : result.data && sink.next(result.data as T)),
        error: (error) => sink.error(error),
        complete: () => sink.complete(),
      });
      return () => subscription.unsubscribe();
    };

  return {
    client,
    ws,
    tokens,
    async register(input) {
      const { data } = await client.mutate({ mutation: RegisterDocument, variables: { input } });
      return signedIn(data!.register);
    },
    async login(input) {
      const { data } = await client.mutate({ mutation: LoginDocument, variables: { input } });
      return signedIn(data!.login);
    },
    followMessages(roomId, after, onEvent, onEnd) {
      // results go to the cache: each message, and its room's unreadCount and lastMessage
      const stream = open((after) => client.subscribe({ query: FollowMessagesDocument, variables: { roomId, after } }));
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
      // events have no id to normalize by (and a union would need possibleTypes): not cached
      const stream = open((after) =>
        client.subscribe({ query: FollowRoomEventsDocument, variables: { roomId, after }, fetchPolicy: "no-cache" }),
      );
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
      // the sync goes to the normalized cache (rooms and messages by id); events are not cached (a union)
      const myEvents = open((after) => client.subscribe({ query: FollowMyEventsDocument, variables: { after }, fetchPolicy: "no-cache" }));
      return catchUp({
        ...handlers,
        ws,
        sync: async (since) =>
          (await client.query({ query: CatchUpDocument, variables: { since }, fetchPolicy: "network-only" })).data!.sync,
        expired: (error) => CombinedGraphQLErrors.is(error) && isExpiredCursor(error.errors),
        openMyEvents: (after, sink) => myEvents(after, { ...sink, next: (data) => sink.next(data.myEvents) }),
        openMessages: (roomId) => {
          const stream = open((after) => client.subscribe({ query: FollowMessagesDocument, variables: { roomId, after } }));
          return (after, sink) => stream(after, { ...sink, next: (data) => sink.next(data.messageAdded) });
        },
      });
    },
    async dispose() {
      client.stop();
      await ws.dispose();
    },
  };
}

/** The operation context the persisted-query link sets: `includeQuery` false while it sends the hash alone. */
interface HttpContext {
  http?: { includeQuery?: boolean };
}

/**
 * The graphql-ws client as GraphQLWsLink should use it for one operation: without
 * the text of the document when `includeQuery` is false (GraphQLWsLink always prints
 * it; graphql-ws wants a string, so the hash goes with an empty `query`), and with
 * GraphQL error lists (an `error` message) turned into CombinedGraphQLErrors before
 * GraphQLWsLink sees them: its own check for a WebSocket error event reads the
 * global `WebSocket`, which Node 20 lacks.
 */
function forSocket(ws: WsClient, includeQuery: boolean): WsClient {
  return {
    ...ws,
    subscribe: (payload, sink) =>
      ws.subscribe(includeQuery ? payload : { ...payload, query: "" }, {
        ...sink,
        next: sink.next.bind(sink),
        complete: sink.complete.bind(sink),
        error: (error) => sink.error(Array.isArray(error) ? new CombinedGraphQLErrors({ errors: error }) : error),
      }),
  };
}
