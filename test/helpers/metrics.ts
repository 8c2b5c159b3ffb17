/** Reading a server's GET /metrics (Prometheus text) in tests. */
export interface MetricsReader {
  /** The value of one sample, e.g. `chat_subscriptions_active` or `x_total{topic="message"}` (0 when absent). */
  sample(name: string): Promise<number>;
  /** Polls until `name` reads `value` (gauges follow socket events asynchronously); rejects after `timeoutMs`. */
  until(name: string, value: number, timeoutMs?: number): Promise<void>;
}

/** A {@link MetricsReader} for the server whose GraphQL endpoint is `graphqlUrl` (…/graphql). */
export function metricsOf(graphqlUrl: string): MetricsReader {
  const sample = async (name: string) => {
    const text = await (await fetch(graphqlUrl.replace(/\/graphql$/, "/metrics"))).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(" ")[1]) : 0;
  };
  return {
    sample,
    until: async (name, value, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while ((await sample(name)) !== value) {
        if (Date.now() > deadline) throw new Error(`${name} is ${await sample(name)}, not ${value}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
