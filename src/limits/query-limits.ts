import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import type { GraphQLArmorRejectCallback } from "@escape.tech/graphql-armor-types";
import { NoSchemaIntrospectionCustomRule } from "graphql";
import type { Plugin, YogaInitialContext } from "graphql-yoga";
import type { Config } from "../config.js";
import { badInput } from "../errors.js";

/**
 * Reports a refused document as BAD_USER_INPUT on `query`, its message naming the
 * limit ("Query depth limit of 10 exceeded, found 11."): during validation as one of
 * the validation errors (Yoga answers 400, nothing is logged); while parsing (max
 * tokens, no validation context) by throwing it, which Yoga answers as a parse error.
 */
const report: GraphQLArmorRejectCallback = (context, rejection) => {
  const error = badInput("query", rejection.message.replace(/^Syntax Error: /, ""));
  if (!context) throw error;
  context.reportError(error);
};

/**
 * The Yoga plugin that refuses costly documents before they run, over HTTP and over
 * graphql-ws alike (both go through Yoga's envelop): graphql-armor's max depth, cost,
 * aliases, directives and tokens, with the limits of `config` (MAX_QUERY_*), and its
 * masking of "Did you mean …?" suggestions, which would reveal the schema when
 * introspection is off; plus graphql-js' NoSchemaIntrospectionCustomRule when
 * GRAPHQL_INTROSPECTION is "off" (refused with GRAPHQL_VALIDATION_FAILED).
 * A refusal is a BAD_USER_INPUT error with `field: "query"` (see {@link report}).
 */
export function useQueryLimits(config: Config): Plugin {
  const onReject = { propagateOnRejection: false, onReject: [report] };
  const armor = EnvelopArmorPlugin<YogaInitialContext>({
    maxDepth: { n: config.MAX_QUERY_DEPTH, ...onReject },
    costLimit: { maxCost: config.MAX_QUERY_COST, ...onReject },
    maxAliases: { n: config.MAX_QUERY_ALIASES, ...onReject },
    maxDirectives: { n: config.MAX_QUERY_DIRECTIVES, ...onReject },
    maxTokens: { n: config.MAX_QUERY_TOKENS, ...onReject },
    blockFieldSuggestion: { enabled: true },
  });
  const noIntrospection: Plugin = { onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) };
  return {
    onPluginInit: ({ addPlugin }) => {
      addPlugin(armor);
      if (config.GRAPHQL_INTROSPECTION === "off") addPlugin(noIntrospection);
    },
  };
}
