import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
  it("defaults to port 4000, embedded PostgreSQL and in-process pub/sub", () => {
    const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), "cfg-")) });
    expect(config.PORT).toBe(4000);
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.TYPING_TTL_MS).toBe(3000);
  });

  it("names every bad variable in one clear error", () => {
    expect(() => loadConfig({ PORT: "70000", DATABASE_URL: "mysql://x", REDIS_URL: "nope" })).toThrowError(ConfigError);
    try {
      loadConfig({ PORT: "70000", DATABASE_URL: "mysql://x", REDIS_URL: "nope" });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT:/);
      expect((err as Error).message).toMatch(/DATABASE_URL:/);
      expect((err as Error).message).toMatch(/REDIS_URL:/);
    }
  });

  it("takes a Redis Cluster from REDIS_CLUSTER_NODES or a redis+cluster:// REDIS_URL, not both with a redis:// one", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const nodes = [
      { host: "10.0.0.1", port: 7000 },
      { host: "::1", port: 7001 },
    ];
    expect(loadConfig({ DATA_DIR: dir, REDIS_CLUSTER_NODES: "10.0.0.1:7000, [::1]:7001" })).toMatchObject({
      REDIS_URL: undefined,
      REDIS_CLUSTER: { nodes },
    });
    expect(loadConfig({ DATA_DIR: dir, REDIS_URL: "redis+cluster://app:p%40ss@10.0.0.1:7000,[::1]:7001/" })).toMatchObject({
      REDIS_URL: undefined,
      REDIS_CLUSTER: { nodes, username: "app", password: "p@ss" },
    });
    expect(() => loadConfig({ DATA_DIR: dir, REDIS_CLUSTER_NODES: "10.0.0.1" })).toThrowError(
      /REDIS_CLUSTER_NODES: "10.0.0.1" must be host:port/,
    );
    expect(() => loadConfig({ DATA_DIR: dir, REDIS_URL: "redis://r:6379", REDIS_CLUSTER_NODES: "10.0.0.1:7000" })).toThrowError(
      /REDIS_CLUSTER_NODES:/,
    );
    expect(() => loadConfig({ DATA_DIR: dir, REDIS_KEY_PREFIX: "{chat}:" })).toThrowError(/REDIS_KEY_PREFIX:/);
  });

  it("generates the VAPID key pair into DATA_DIR outside production, and takes both keys or neither in production", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const first = loadConfig({ DATA_DIR: dir });
    expect(Buffer.from(first.VAPID_PUBLIC_KEY!, "base64url")).toHaveLength(65);
    expect(Buffer.from(first.VAPID_PRIVATE_KEY!, "base64url")).toHaveLength(32);
    expect(first.VAPID_SUBJECT).toBe("mailto:push@localhost");
    expect(statSync(join(dir, "vapid-keys")).mode & 0o777).toBe(0o600);
    // kept: the same pair on the next start
    expect(loadConfig({ DATA_DIR: dir })).toMatchObject({
      VAPID_PUBLIC_KEY: first.VAPID_PUBLIC_KEY,
      VAPID_PRIVATE_KEY: first.VAPID_PRIVATE_KEY,
    });

    const production = { NODE_ENV: "production", JWT_SECRET: randomBytes(48).toString("base64"), DATA_DIR: dir };
    // neither: push off, nothing generated
    expect(loadConfig(production)).toMatchObject({ VAPID_PUBLIC_KEY: undefined, VAPID_PRIVATE_KEY: undefined, VAPID_SUBJECT: undefined });
    const keys = { VAPID_PUBLIC_KEY: first.VAPID_PUBLIC_KEY!, VAPID_PRIVATE_KEY: first.VAPID_PRIVATE_KEY! };
    expect(loadConfig({ ...production, ...keys, VAPID_SUBJECT: "mailto:ops@example.com" })).toMatchObject({
      ...keys,
      VAPID_SUBJECT: "mailto:ops@example.com",
    });
    expect(() =>
      loadConfig({ ...production, VAPID_PUBLIC_KEY: keys.VAPID_PUBLIC_KEY, VAPID_SUBJECT: "mailto:ops@example.com" }),
    ).toThrowError(/VAPID_PRIVATE_KEY: VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together/);
    expect(() => loadConfig({ ...production, ...keys })).toThrowError(/VAPID_SUBJECT: is required when NODE_ENV=production/);
    expect(() => loadConfig({ ...production, ...keys, VAPID_SUBJECT: "http://example.com" })).toThrowError(
      /VAPID_SUBJECT: must be a mailto: or https: URL/,
    );
    expect(() =>
      loadConfig({
        ...production,
        ...keys,
        VAPID_SUBJECT: "mailto:ops@example.com",
        VAPID_PUBLIC_KEY: randomBytes(64).toString("base64url"),
      }),
    ).toThrowError(/VAPID_PUBLIC_KEY: must be a P-256 public key/);
    expect(() => loadConfig({ ...production, ...keys, VAPID_SUBJECT: "mailto:ops@example.com", VAPID_PRIVATE_KEY: "short" })).toThrowError(
      /VAPID_PRIVATE_KEY: must be a P-256 private key/,
    );
    expect(() => loadConfig({ DATA_DIR: dir, PUSH_COALESCE_MS: "-1" })).toThrowError(/PUSH_COALESCE_MS:/);
  });

  it("requires JWT_SECRET in production", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrowError(/JWT_SECRET: is required when NODE_ENV=production/);
    expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: "short" })).toThrowError(/JWT_SECRET: must be at least 32 characters/);
  });

  it("refuses a placeholder JWT_SECRET in production, naming the variable", () => {
    for (const placeholder of [
      "change-me-change-me-change-me-change-me-0123", // docker-compose.yml's old default
      "CHANGEME_CHANGEME_CHANGEME_CHANGEME",
      "your-256-bit-secret-your-256-bit-secret", // jwt.io's
      "super-secret-jwt-token-with-at-least-32-characters",
      "replace-me-with-a-long-random-string-please",
      "this-is-a-placeholder-this-is-a-placeholder",
    ]) {
      expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: placeholder })).toThrowError(
        /JWT_SECRET: is a placeholder \(it contains "\w+"\), not a key/,
      );
    }
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    for (const key of [randomBytes(48).toString("base64"), randomBytes(32).toString("hex")]) {
      expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: key, DATA_DIR: dir }).JWT_SECRET).toBe(key);
    }
    // outside production a test or development key may be anything long enough
    expect(loadConfig({ NODE_ENV: "test", JWT_SECRET: "test-secret-test-secret-test-secret", DATA_DIR: dir }).JWT_SECRET).toBe(
      "test-secret-test-secret-test-secret",
    );
  });

  it("keeps part of the database pool for requests: DATABASE_SETUP_CONNECTIONS below DATABASE_POOL_SIZE", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const defaults = loadConfig({ DATA_DIR: dir });
    expect(defaults.DATABASE_POOL_SIZE).toBe(10);
    expect(defaults.DATABASE_SETUP_CONNECTIONS).toBeUndefined(); // half the pool (app.ts)
    expect(loadConfig({ DATA_DIR: dir, DATABASE_POOL_SIZE: "20", DATABASE_SETUP_CONNECTIONS: "8" })).toMatchObject({
      DATABASE_POOL_SIZE: 20,
      DATABASE_SETUP_CONNECTIONS: 8,
    });
    expect(() => loadConfig({ DATA_DIR: dir, DATABASE_SETUP_CONNECTIONS: "10" })).toThrowError(
      /DATABASE_SETUP_CONNECTIONS: must be less than DATABASE_POOL_SIZE/,
    );
  });

  it("checks the OpenTelemetry variables, tracing being off by default", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const defaults = loadConfig({ DATA_DIR: dir });
    expect(defaults).toMatchObject({
      OTEL_SERVICE_NAME: "chat-graphql",
      OTEL_TRACES_SAMPLER: "parentbased_always_on",
      OTEL_TRACES_SAMPLER_ARG: 1,
    });
    expect(
      defaults.OTEL_TRACES_EXPORTER ?? defaults.OTEL_EXPORTER_OTLP_ENDPOINT ?? defaults.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    ).toBeUndefined();
    expect(loadConfig({ DATA_DIR: dir, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" })).toMatchObject({
      OTEL_TRACES_SAMPLER_ARG: 0.25,
    });
    expect(() => loadConfig({ DATA_DIR: dir, OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrowError(/OTEL_EXPORTER_OTLP_ENDPOINT:/);
    expect(() => loadConfig({ DATA_DIR: dir, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "grpc://collector:4317" })).toThrowError(
      /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:/,
    );
    expect(() => loadConfig({ DATA_DIR: dir, OTEL_TRACES_EXPORTER: "zipkin" })).toThrowError(/OTEL_TRACES_EXPORTER:/);
    expect(() => loadConfig({ DATA_DIR: dir, OTEL_TRACES_SAMPLER: "always_off" })).toThrowError(/OTEL_TRACES_SAMPLER:/);
    expect(() => loadConfig({ DATA_DIR: dir, OTEL_TRACES_SAMPLER_ARG: "2" })).toThrowError(/OTEL_TRACES_SAMPLER_ARG:/);
  });

  it("keeps attachments on disk by default; ATTACHMENTS_STORE=s3 needs a bucket, and key id and secret together", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    expect(loadConfig({ DATA_DIR: dir })).toMatchObject({ ATTACHMENTS_STORE: "disk", S3_REGION: "us-east-1", S3_FORCE_PATH_STYLE: false });
    const s3 = { DATA_DIR: dir, ATTACHMENTS_STORE: "s3", S3_BUCKET: "chat-files" };
    expect(
      loadConfig({
        ...s3,
        S3_ENDPOINT: "http://127.0.0.1:9000",
        S3_FORCE_PATH_STYLE: "true",
        S3_ACCESS_KEY_ID: "id",
        S3_SECRET_ACCESS_KEY: "secret",
      }),
    ).toMatchObject({
      ATTACHMENTS_STORE: "s3",
      S3_BUCKET: "chat-files",
      S3_ENDPOINT: "http://127.0.0.1:9000",
      S3_FORCE_PATH_STYLE: true,
    });
    // no keys: the AWS SDK's default credentials
    expect(loadConfig({ ...s3, S3_REGION: "auto" }).S3_ACCESS_KEY_ID).toBeUndefined();
    expect(() => loadConfig({ DATA_DIR: dir, ATTACHMENTS_STORE: "s3" })).toThrowError(/S3_BUCKET: is required when ATTACHMENTS_STORE=s3/);
    expect(() => loadConfig({ DATA_DIR: dir, S3_BUCKET: "chat-files" })).toThrowError(/S3_BUCKET: is set, but uploads go to disk/);
    expect(() => loadConfig({ ...s3, S3_ACCESS_KEY_ID: "id" })).toThrowError(
      /S3_SECRET_ACCESS_KEY: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together/,
    );
    expect(() => loadConfig({ ...s3, S3_BUCKET: "Chat_Files" })).toThrowError(/S3_BUCKET: must be a bucket name/);
    expect(() => loadConfig({ ...s3, S3_ENDPOINT: "minio:9000" })).toThrowError(/S3_ENDPOINT:/);
    expect(() => loadConfig({ ...s3, S3_FORCE_PATH_STYLE: "maybe" })).toThrowError(/S3_FORCE_PATH_STYLE:/);
    expect(() => loadConfig({ DATA_DIR: dir, ATTACHMENTS_STORE: "ftp" })).toThrowError(/ATTACHMENTS_STORE:/);
  });

  it("generates a development JWT secret once and keeps it under DATA_DIR", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const first = loadConfig({ DATA_DIR: dir }).JWT_SECRET;
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ DATA_DIR: dir }).JWT_SECRET).toBe(first);
    expect(readFileSync(join(dir, "jwt-secret"), "utf8")).toBe(first);
    expect(statSync(join(dir, "jwt-secret")).mode & 0o777).toBe(0o600);
  });

  it("GRAPHQL_TRUSTED_DOCUMENTS allow and only need GRAPHQL_TRUSTED_DOCUMENTS_FILE, a readable JSON object of hash → document", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const env = (mode: string, file?: string) => ({
      DATA_DIR: dir,
      GRAPHQL_TRUSTED_DOCUMENTS: mode,
      ...(file ? { GRAPHQL_TRUSTED_DOCUMENTS_FILE: file } : {}),
    });
    expect(loadConfig({ DATA_DIR: dir }).GRAPHQL_TRUSTED_DOCUMENTS).toBe("off");
    for (const mode of ["allow", "only"]) {
      expect(() => loadConfig(env(mode))).toThrowError(
        /GRAPHQL_TRUSTED_DOCUMENTS_FILE: is required when GRAPHQL_TRUSTED_DOCUMENTS is allow or only/,
      );
    }
    expect(() => loadConfig(env("only", join(dir, "missing.json")))).toThrowError(
      /GRAPHQL_TRUSTED_DOCUMENTS_FILE: cannot read .*missing\.json: ENOENT/,
    );
    const notJson = join(dir, "not.json");
    writeFileSync(notJson, "{ nope");
    expect(() => loadConfig(env("only", notJson))).toThrowError(/GRAPHQL_TRUSTED_DOCUMENTS_FILE: cannot read .*not\.json: .*JSON/);
    const wrongShape = join(dir, "list.json");
    writeFileSync(wrongShape, JSON.stringify({ abc: 1 }));
    expect(() => loadConfig(env("allow", wrongShape))).toThrowError(
      /GRAPHQL_TRUSTED_DOCUMENTS_FILE: .*list\.json is not a JSON object of hash → document/,
    );
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify({ abc: "{ me { id } }" }));
    expect(loadConfig(env("only", good)).GRAPHQL_TRUSTED_DOCUMENTS_FILE).toEqual(new Map([["abc", "{ me { id } }"]]));
  });
  it("GRAPHIQL and GRAPHQL_INTROSPECTION: off by default when NODE_ENV=production, on otherwise; either switch wins", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const key = randomBytes(48).toString("base64");
    const both = (env: Record<string, string>) => {
      const config = loadConfig({ DATA_DIR: dir, JWT_SECRET: key, ...env });
      return [config.GRAPHIQL, config.GRAPHQL_INTROSPECTION];
    };
    expect(both({})).toEqual(["on", "on"]); // development
    expect(both({ NODE_ENV: "test" })).toEqual(["on", "on"]);
    expect(both({ NODE_ENV: "production" })).toEqual(["off", "off"]);
    expect(both({ NODE_ENV: "production", GRAPHIQL: "on" })).toEqual(["on", "off"]);
    expect(both({ NODE_ENV: "production", GRAPHQL_INTROSPECTION: "on" })).toEqual(["off", "on"]);
    expect(both({ GRAPHIQL: "off", GRAPHQL_INTROSPECTION: "off" })).toEqual(["off", "off"]);
    expect(() => both({ GRAPHIQL: "yes" })).toThrowError(/GRAPHIQL:/);
  });
});
