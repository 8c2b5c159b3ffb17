/**
 * Security basics, over the real protocols: CSRF prevention for "simple"
 * cross-site requests (src/security/csrf.ts), CORS by CORS_ORIGINS
 * (src/security/cors.ts), access tokens verified with a fixed algorithm, issuer
 * and audience (src/auth/tokens.ts), refresh tokens and passwords stored only
 * hashed (src/auth/sessions.ts, passwords.ts), and uploads typed by their bytes,
 * never by the client's claim (src/attachments/).
 */
import { createHmac } from "node:crypto";
import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ARGON2_PARAMS } from "../src/auth/passwords.js";
import { CSRF_HEADER } from "../src/security/csrf.js";
import { errorCode, type GqlResponse, gql } from "./helpers/client.js";
import { TEST_JWT_SECRET, useTestServer } from "./helpers/server.js";

const ALLOWED_ORIGIN = "https://app.example.com";
const {
  server,
  users: [alice],
} = useTestServer(["alice"], { env: { CORS_ORIGINS: `${ALLOWED_ORIGIN},https://admin.example.com` } });

const ME = "{ me { id } }";

/** A multipart/form-data body of one GraphQL operation (the multipart request spec without files). */
function formOf(query: string): FormData {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query }));
  form.append("map", "{}");
  return form;
}

describe("CSRF prevention: requests a cross-site page can send without a preflight need the CSRF header", () => {
  const cases: [string, () => RequestInit & { search?: string }][] = [
    ["a GET query", () => ({ method: "GET", search: `?query=${encodeURIComponent(ME)}` })],
    ["a POST with text/plain", () => ({ method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ query: ME }) })],
    ["a POST with multipart/form-data", () => ({ method: "POST", body: formOf(ME) })],
    [
      "a POST with application/x-www-form-urlencoded",
      () => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `query=${encodeURIComponent(ME)}` }),
    ],
  ];

  it.each(cases)("refuses %s without it (403, nothing run)", async (_label, make) => {
    const { search = "", ...init } = make();
    const response = await fetch(server.url + search, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${alice.accessToken}` },
    });
    expect(response.status).toBe(403);
    const body = (await response.json()) as GqlResponse;
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.message).toMatch(/CSRF/);
  });

  it.each(cases.filter(([label]) => !label.includes("text/plain") && !label.includes("urlencoded")))(
    "runs %s with it",
    async (_label, make) => {
      const { search = "", ...init } = make();
      const response = await fetch(server.url + search, {
        ...init,
        headers: {
          ...(init.headers as Record<string, string>),
          [CSRF_HEADER]: "1",
          accept: "application/json",
          authorization: `Bearer ${alice.accessToken}`,
        },
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as GqlResponse).data?.me.id).toBe(alice.id);
    },
  );

  it("lets JSON POSTs through without it (browsers preflight them)", async () => {
    expect((await gql(server.url, ME, {}, alice.accessToken)).data?.me.id).toBe(alice.id);
  });
});

describe("CORS (CORS_ORIGINS)", () => {
  const preflight = (origin: string) =>
    fetch(server.url, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type, authorization" },
    });

  it("answers an allowed origin's preflight with that origin, its headers, and no credentials", async () => {
    const response = await preflight(ALLOWED_ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(response.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    const post = await fetch(server.url, {
      method: "POST",
      headers: { origin: ALLOWED_ORIGIN, "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(post.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
  });

  it("gives any other origin no CORS headers, so its pages cannot call the API", async () => {
    for (const origin of ["https://evil.example", "https://app.example.com.evil.example", "null"]) {
      const response = await preflight(origin);
      expect(response.headers.get("access-control-allow-origin"), origin).toBeNull();
      expect(response.headers.get("access-control-allow-headers"), origin).toBeNull();
    }
  });
});

describe("access tokens (JWT)", () => {
  const key = new TextEncoder().encode(TEST_JWT_SECRET);
  const now = () => Math.floor(Date.now() / 1000);
  /** Claims of alice's real session; each case changes one thing. */
  const claims = async () => {
    const session = await server.app.db.session.findFirstOrThrow({ where: { userId: alice.id } });
    return { sid: session.id };
  };
  const signed = async (change: { issuer?: string; audience?: string; secret?: string } = {}) =>
    new SignJWT(await claims())
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(alice.id)
      .setIssuer(change.issuer ?? "chat-graphql")
      .setAudience(change.audience ?? "chat-graphql:api")
      .setIssuedAt()
      .setExpirationTime(now() + 600)
      .sign(change.secret ? new TextEncoder().encode(change.secret) : key);

  /** The same claims signed HS512 with the right key (only the algorithm differs). */
  const otherAlgorithm = async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const head = `${b64({ alg: "HS512", typ: "JWT" })}.${b64({ ...(await claims()), sub: alice.id, iss: "chat-graphql", aud: "chat-graphql:api", iat: now(), exp: now() + 600 })}`;
    return `${head}.${createHmac("sha512", TEST_JWT_SECRET).update(head).digest("base64url")}`;
  };

  it("accepts a token made like the server's (the control case)", async () => {
    expect((await gql(server.url, ME, {}, await signed())).data?.me.id).toBe(alice.id);
  });

  it.each([
    [
      "alg none (unsigned)",
      async () =>
        new UnsecuredJWT({ ...(await claims()) })
          .setSubject(alice.id)
          .setIssuer("chat-graphql")
          .setAudience("chat-graphql:api")
          .setExpirationTime(now() + 600)
          .encode(),
    ],
    ["another algorithm (HS512, right key)", otherAlgorithm],
    ["another issuer", () => signed({ issuer: "someone-else" })],
    ["another audience (the attachment URLs')", () => signed({ audience: "chat-graphql:attachment" })],
    ["another key", () => signed({ secret: "another-secret-another-secret-another-secret" })],
    [
      "a tampered payload (signature no longer matches)",
      async () => {
        const [head, , signature] = (await signed()).split(".");
        const payload = Buffer.from(
          JSON.stringify({
            ...(await claims()),
            sub: "00000000-0000-0000-0000-000000000000",
            iss: "chat-graphql",
            aud: "chat-graphql:api",
            exp: now() + 600,
          }),
        ).toString("base64url");
        return `${head}.${payload}.${signature}`;
      },
    ],
  ])("refuses %s with UNAUTHENTICATED", async (_label, make) => {
    const result = await gql(server.url, ME, {}, await make());
    expect(errorCode(result)).toBe("UNAUTHENTICATED");
    expect(result.data?.me ?? null).toBeNull();
  });

  it("are short-lived: the server's own expire in ACCESS_TOKEN_TTL_S (15 min by default)", async () => {
    const { exp, iat } = JSON.parse(Buffer.from(alice.accessToken.split(".")[1]!, "base64url").toString()) as { exp: number; iat: number };
    expect(exp - iat).toBe(server.app.config.ACCESS_TOKEN_TTL_S);
    expect(server.app.config.ACCESS_TOKEN_TTL_S).toBeLessThanOrEqual(900);
  });
});

describe("stored secrets", () => {
  it("keeps only the SHA-256 of a refresh token's secret, never the token", async () => {
    const session = await server.app.db.session.findFirstOrThrow({ where: { userId: alice.id } });
    const secret = alice.refreshToken.split(".")[1]!;
    const rows = JSON.stringify(await server.app.db.session.findMany());
    expect(rows).not.toContain(secret);
    expect(session.refreshTokenHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("keeps passwords as argon2id PHC strings with the documented parameters", async () => {
    const user = await server.app.db.user.findUniqueOrThrow({ where: { id: alice.id } });
    const { memoryCost, timeCost, parallelism } = ARGON2_PARAMS;
    expect(user.passwordHash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${memoryCost},p=${parallelism},t=${timeCost}\\$`));
    expect(JSON.stringify(user)).not.toContain("correct horse battery");
  });
});

describe("uploads", () => {
  it("types a file declared image/png but holding HTML by its bytes (text/plain), and serves it as a download with nosniff", async () => {
    const html = "<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
    const form = new FormData();
    form.append(
      "operations",
      JSON.stringify({ query: `mutation($file: File!) { uploadAttachment(file: $file) { mimeType url } }`, variables: { file: null } }),
    );
    form.append("map", JSON.stringify({ 0: ["variables.file"] }));
    form.append("0", new Blob([html], { type: "image/png" }), "cat.png");
    const response = await fetch(server.url, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.accessToken}`, [CSRF_HEADER]: "1" },
      body: form,
    });
    const attachment = ((await response.json()) as GqlResponse).data?.uploadAttachment;
    expect(attachment.mimeType).toBe("text/plain");

    const download = await fetch(new URL(server.url).origin + attachment.url);
    expect(download.headers.get("content-type")).toBe("text/plain");
    expect(download.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(download.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
