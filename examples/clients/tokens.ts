/**
 * The session tokens of one example client (apollo.ts, urql.ts): the current
 * access/refresh pair, and one refresh at a time however many operations ask for it.
 */

/** What register, login and refreshToken return (AuthPayload). `expiresAt` is the access token's expiry, ISO 8601. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

/** Trades a refresh token for a new pair (the refreshToken mutation); rejects when the server refuses it. */
export type RefreshFn = (refreshToken: string) => Promise<TokenPair>;

/** Holds the current {@link TokenPair}; `set` after register/login, `clear` after logout. */
export class TokenStore {
  #pair: TokenPair | null = null;
  #refreshing: Promise<TokenPair> | null = null;
  /** How many refreshes have completed (for tests and metrics). */
  refreshes = 0;

  constructor(private readonly exchange: RefreshFn) {}

  get pair(): TokenPair | null {
    return this.#pair;
  }

  set(pair: TokenPair): void {
    this.#pair = pair;
  }

  clear(): void {
    this.#pair = null;
  }

  /** `Bearer <accessToken>`, or undefined when logged out. */
  authorization(): string | undefined {
    return this.#pair ? `Bearer ${this.#pair.accessToken}` : undefined;
  }

  /** Whether the access token expires within `marginMs` (default 1 s) from now; false when logged out. */
  expiresSoon(marginMs = 1000): boolean {
    return this.#pair !== null && Date.parse(this.#pair.expiresAt) - marginMs <= Date.now();
  }

  /**
   * Trades the stored refresh token for a new pair and stores it. Concurrent
   * callers share one refreshToken mutation (the token is single use: a second
   * one would revoke the session). Rejects, and clears the store, when logged
   * out or when the server refuses the refresh token.
   */
  refresh(): Promise<TokenPair> {
    this.#refreshing ??= (async () => {
      try {
        if (!this.#pair) throw new Error("not logged in");
        const pair = await this.exchange(this.#pair.refreshToken);
        this.#pair = pair;
        this.refreshes++;
        return pair;
      } catch (err) {
        this.#pair = null;
        throw err;
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** The access token, refreshed first when it expires within `marginMs` (see {@link expiresSoon}). */
  async fresh(marginMs = 1000): Promise<string | undefined> {
    if (this.expiresSoon(marginMs)) await this.refresh().catch(() => undefined);
    return this.authorization();
  }
}

/** Whether a GraphQL error list holds one with `extensions.code === "UNAUTHENTICATED"`. */
export const isUnauthenticated = (errors: readonly { extensions?: { code?: unknown } | Record<string, unknown> }[] | undefined): boolean =>
  (errors ?? []).some((e) => e.extensions?.code === "UNAUTHENTICATED");
