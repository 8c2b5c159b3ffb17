// @vitest-environment happy-dom
/**
 * The codegen React hooks, rendered: examples/react/ApolloRoom.tsx (Apollo
 * Client's generated hooks) and UrqlRoom.tsx (urql's), each under its library's
 * provider with the example client of examples/clients/, in a DOM (happy-dom),
 * against a server process. Each shows the history, then a message sent from its
 * own form (the generated mutation hook) and one sent by another user, both
 * arriving through the generated subscription, in order and once. The server runs
 * only the trusted documents of `npm run codegen` (GRAPHQL_TRUSTED_DOCUMENTS=only),
 * so every operation of the hooks goes by its hash.
 */
import { ApolloProvider } from "@apollo/client/react";
import type { ReactNode } from "react";
import { createRoot, type Root } from "react-dom/client";
import { Provider as UrqlProvider } from "urql";
import { describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { createApolloChat } from "../examples/clients/apollo.js";
import type { ChatClient, ChatClientOptions } from "../examples/clients/chat.js";
import { createUrqlChat } from "../examples/clients/urql.js";
import { CreateRoomDocument, RegisterDocument, SendMessageDocument } from "../examples/generated/graphql.js";
import { ApolloRoom } from "../examples/react/ApolloRoom.js";
import { UrqlRoom } from "../examples/react/UrqlRoom.js";
import { errorCode, gql, persistedOk } from "./helpers/client.js";
import { metricsOf } from "./helpers/metrics.js";
import { useNodes } from "./helpers/nodes.js";

const PASSWORD = "correct horse battery";

const {
  nodes: [node],
  // biome-ignore lint/correctness/useHookAtTopLevel: useNodes is a vitest fixture (registers beforeAll/afterAll), not a React hook
} = useNodes(
  1,
  // the DOM's page is on another origin than the server: allow it (CORS_ORIGINS, src/security/cors.ts);
  // only the example clients' trusted documents run (src/security/trusted-documents.ts)
  {
    CORS_ORIGINS: window.location.origin,
    GRAPHQL_TRUSTED_DOCUMENTS: "only",
    GRAPHQL_TRUSTED_DOCUMENTS_FILE: "examples/generated/persisted-documents.json",
  },
  { timeoutMs: 90_000 },
);

let registered = 0;
/** Registers a user through the generated Register document, by its hash. */
async function register(name: string) {
  const username = `${name}_${process.pid}_${++registered}`;
  const input = { username, email: `${username}@example.com`, password: PASSWORD, firstName: name, lastName: "Hooks" };
  const { register } = await persistedOk(node.url, RegisterDocument, { input });
  return { id: register.user.id, username, displayName: register.user.displayName, accessToken: register.accessToken };
}

/** The rendered messages ("sender: content"), top to bottom. */
const shown = (container: HTMLElement) => [...container.querySelectorAll("li")].map((li) => li.textContent);

/** Types `content` into the form and presses Send. */
function sendFromForm(container: HTMLElement, content: string) {
  container.querySelector<HTMLInputElement>("input[name=content]")!.value = content;
  container.querySelector<HTMLButtonElement>("button[type=submit]")!.click();
}

interface Library {
  name: string;
  /** The example client (examples/clients/) of the library. */
  make(options: ChatClientOptions): ChatClient<unknown>;
  render(chat: ChatClient<unknown>, roomId: string): ReactNode;
}

const libraries: Library[] = [
  {
    name: "Apollo Client hooks",
    make: createApolloChat,
    render: (chat, roomId) => (
      <ApolloProvider client={(chat as ReturnType<typeof createApolloChat>).client}>
        <ApolloRoom roomId={roomId} />
      </ApolloProvider>
    ),
  },
  {
    name: "urql hooks",
    make: createUrqlChat,
    render: (chat, roomId) => (
      <UrqlProvider value={(chat as ReturnType<typeof createUrqlChat>).client}>
        <UrqlRoom roomId={roomId} />
      </UrqlProvider>
    ),
  },
];

describe.each(libraries)("$name", (library) => {
  it("render the history, then a message sent from the form and one sent by another user, through the subscription, once each and in order", async () => {
    // the node runs only trusted documents: the test's own operations go by hash too
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const roomId = (
      await persistedOk(node.url, CreateRoomDocument, { input: { name: "Hooks", type: "GROUP", memberIds: [bob.id] } }, alice.accessToken)
    ).createRoom.id;
    const bobSays = (content: string) => persistedOk(node.url, SendMessageDocument, { input: { roomId, content } }, bob.accessToken);
    await bobSays("earlier");
    const [aliceName, bobName] = [alice.displayName, bob.displayName];

    const chat = library.make({ httpUrl: node.url, wsUrl: node.wsUrl, webSocketImpl: WebSocket });
    await chat.login({ username: alice.username, password: PASSWORD });
    // and a document sent as text is refused there
    expect(errorCode(await gql(node.url, "{ me { id } }"))).toBe("PERSISTED_QUERY_ONLY");
    const container = document.createElement("div");
    document.body.append(container);
    const root: Root = createRoot(container);
    try {
      const metrics = metricsOf(node.url);
      const before = await metrics.sample("chat_subscriptions_active");
      root.render(library.render(chat, roomId));
      await vi.waitFor(() => expect(shown(container)).toEqual([`${bobName}: earlier`]), { timeout: 10_000 });
      await metrics.until("chat_subscriptions_active", before + 1, 10_000);

      sendFromForm(container, "from the form");
      await vi.waitFor(() => expect(shown(container)).toHaveLength(2), { timeout: 10_000 });
      await bobSays("from bob");
      await vi.waitFor(
        () => expect(shown(container)).toEqual([`${bobName}: earlier`, `${aliceName}: from the form`, `${bobName}: from bob`]),
        { timeout: 10_000 },
      );
    } finally {
      root.unmount();
      container.remove();
      await chat.dispose();
    }
  });
});
