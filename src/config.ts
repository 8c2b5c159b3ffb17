import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    HOST: z.string().default("0.0.0.0"),
    /** PostgreSQL URL; unset → embedded PostgreSQL under DATA_DIR. */
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    /** Redis URL; unset → in-process pub/sub (one node only). */
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
    /** Prefix of this deployment's Redis keys (presence, typing); nodes of one deployment share it. */
    REDIS_KEY_PREFIX: z.string().max(64).default("chat:"),
    /** HS256 key for access tokens; required in production, ≥ 32 characters. */
    JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    /** Where the embedded PostgreSQL and the development JWT secret live. */
    DATA_DIR: z.string().default(".data"),
    /** Port of the embedded PostgreSQL (only when DATABASE_URL is unset). */
    EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
    /** Access-token lifetime in seconds (default 15 min). */
    ACCESS_TOKEN_TTL_S: z.coerce.number().int().positive().default(900),
    /** Refresh-token (session) lifetime in seconds (default 30 days). */
    REFRESH_TOKEN_TTL_S: z.coerce.number().int().positive().default(30 * 24 * 3600),
    /** Presence TTL in ms: a node that stops heart-beating takes its users OFFLINE within this (+ one sweep). */
    PRESENCE_TTL_MS: z.coerce.number().int().min(1000).max(60_000).default(30_000),
    /** Typing expiry in ms without a refresh (seed 001: 3 s). */
    TYPING_TTL_MS: z.coerce.number().int().min(100).default(3000),
    /** Where uploads are kept (default `<DATA_DIR>/attachments`); nodes must share it. */
    ATTACHMENTS_DIR: z.string().optional(),
    /** Largest upload in bytes (default 25 MiB). */
    MAX_ATTACHMENT_BYTES: z.coerce.number().int().min(1024).max(1024 ** 3).default(25 * 1024 * 1024),
    /** The server's public origin for attachment URLs, e.g. https://chat.example.com; unset: path-only URLs. */
    PUBLIC_URL: z.url().optional(),
    /** How often each node purges self-destructing messages whose time has come, in ms. */
    EXPIRY_SWEEP_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
    /**
     * "on": a subscription selecting only viewer-independent fields is executed
     * once per event per node and the result shared by its subscribers
     * (realtime/shared-execution.ts); "off": once per subscriber (the naive
     * stack, kept for the benchmark's baseline).
     */
    SUBSCRIPTION_SHARING: z.enum(["on", "off"]).default("on"),
    /**
     * Origins whose pages may call the API from a browser (CORS), comma-separated,
     * e.g. `https://chat.example.com,https://admin.example.com`; `*` allows any.
     * Default: none, i.e. same-origin only (GraphiQL is served from /graphql;
     * native and server clients do not use CORS). See security/cors.ts.
     */
    CORS_ORIGINS: z
      .string()
      .default("")
      .transform((list) => list.split(",").map((o) => o.trim()).filter(Boolean))
      .pipe(z.array(z.union([z.literal("*"), z.url({ protocol: /^https?$/ }).refine((o) => new URL(o).origin === o, "must be an origin such as https://chat.example.com (no path or trailing slash)")]))),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .refine((env) => env.NODE_ENV !== "production" || env.JWT_SECRET, {
    path: ["JWT_SECRET"],
    message: "is required when NODE_ENV=production",
  });

/**
 * The server's typed configuration, read once from the environment.
 * Times carry their unit in the name (`_S` seconds, `_MS` milliseconds).
 */
export type Config = Omit<z.infer<typeof EnvSchema>, "JWT_SECRET"> & { JWT_SECRET: string };

/** Thrown by {@link loadConfig} with one line per bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses and checks the environment (zod) and fills the embedded defaults;
 * empty variables count as unset.
 * Outside production a missing JWT_SECRET is generated once and kept in
 * `<DATA_DIR>/jwt-secret`, so tokens survive restarts.
 * @throws ConfigError naming each bad variable, e.g. `PORT: Too big: expected number to be <=65535`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // an empty variable counts as unset (e.g. `DATABASE_URL= npm start`)
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== "")));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid environment:\n${lines.join("\n")}`);
  }
  const config = parsed.data;
  return { ...config, DATA_DIR: resolve(config.DATA_DIR), JWT_SECRET: config.JWT_SECRET ?? devSecret(config.DATA_DIR) };
}

function devSecret(dataDir: string): string {
  const file = join(dataDir, "jwt-secret");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(48).toString("base64url");
    writeFileSync(file, secret, { mode: 0o600 });
    return secret;
  }
}
