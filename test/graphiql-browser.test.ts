/**
 * GraphiQL in a real browser (Debian's Chromium driven by playwright-core,
 * headless): open /graphql, run a query with an Authorization header, start a
 * subscription (GraphiQL runs them over SSE), send a message from another
 * client, and see the event appear in the page (which came brotli-compressed).
 * The screenshot is kept as a test artifact in test-results/graphiql.png.
 */
import { existsSync, mkdirSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestUser } from "./helpers/client.js";
import { useTestServer } from "./helpers/server.js";

const CHROMIUM = "/usr/bin/chromium";
/** The flags the machine's probe uses: no sandbox as root, and no background calls to Google's hosts (the network is closed). */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const {
  server,
  api,
  users: [alice, bob],
} = useTestServer(["alice", "bob"]);
let browser: Browser;
let roomId: string;
beforeAll(async () => {
  roomId = (
    await api.ok(alice, `mutation($m: [ID!]) { createRoom(input: { name: "Browser", type: GROUP, memberIds: $m }) { id } }`, {
      m: [bob.id],
    })
  ).createRoom.id;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/** Opens GraphiQL, types `query` into the editor and an Authorization header for `user` into the Headers tab. */
async function openGraphiQL(query: string, user: TestUser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const response = await page.goto(server.url);
  // Chromium accepts "gzip, deflate, br, zstd": the page comes as brotli (src/graphiql.ts)
  expect(response!.headers()["content-encoding"]).toBe("br");
  await replaceText(page, ".graphiql-query-editor .monaco-editor", query);
  await page.getByText("Headers", { exact: true }).click();
  await replaceText(
    page,
    ".graphiql-editor-tool .monaco-editor >> visible=true",
    JSON.stringify({ Authorization: `Bearer ${user.accessToken}` }),
  );
  return page;
}

/** Replaces an editor's content (insertText: no key events, so no auto-closed brackets). */
async function replaceText(page: Page, editor: string, text: string): Promise<void> {
  await page.locator(editor).first().click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(text);
}

/** The text of GraphiQL's response pane (a Monaco editor: its spaces are rendered as no-break spaces). */
const responseText = async (page: Page) => (await page.locator(".graphiql-response").innerText()).replace(/\u00a0/g, " ");

describe("GraphiQL in Chromium", () => {
  it("runs a query with the Authorization header, and shows a subscription's event sent by another client", async () => {
    const page = await openGraphiQL(`query { me { username } }`, alice);
    await page.locator(".graphiql-execute-button").click();
    await expect.poll(() => responseText(page), { timeout: 10_000 }).toContain(alice.username);

    const subscriptionPage = await openGraphiQL(
      `subscription { messageAdded(roomId: "${roomId}") { content sender { username } } }`,
      alice,
    );
    await subscriptionPage.locator(".graphiql-execute-button").click();
    const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id } }`;
    // the SSE subscription starts asynchronously: send until the page shows one
    await expect
      .poll(
        async () => {
          await api.ok(bob, SEND, { r: roomId, c: "hello from the other client" });
          return responseText(subscriptionPage);
        },
        { timeout: 15_000, interval: 500 },
      )
      .toContain("hello from the other client");
    expect(await responseText(subscriptionPage)).toContain(bob.username);
    if (!existsSync("test-results")) mkdirSync("test-results");
    await subscriptionPage.screenshot({ path: "test-results/graphiql.png" });
  }, 60_000);
});
