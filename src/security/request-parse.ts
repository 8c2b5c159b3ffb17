import { createGraphQLError, type Plugin } from "graphql-yoga";

/**
 * Answers a request whose parameters are not JSON (e.g. `GET /graphql?query=…&variables=nope`)
 * with HTTP 400 and `extensions.code` BAD_REQUEST, as Yoga already does for a
 * POST body that is not JSON; Yoga's GET parser lets JSON.parse's SyntaxError
 * through, which became a masked 500 and an error log line. Wraps whichever
 * parser Yoga chose (its own plugins come before ours), so it covers them all.
 */
export function useRequestParseErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          throw createGraphQLError(`Request parameters are not valid JSON: ${error.message}`, {
            extensions: { code: "BAD_REQUEST", http: { status: 400 } },
          });
        }
      });
    },
  };
}
