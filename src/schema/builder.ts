import SchemaBuilder, { type ObjectRef } from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin, { type ContextForAuth, type ReplaceContext } from "@pothos/plugin-scope-auth";
import ValidationPlugin from "@pothos/plugin-validation";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONResolver } from "graphql-scalars";
import type { Context, ViewerContext } from "../context.js";
import { unauthenticated } from "../errors.js";
import type PrismaTypes from "../generated/prisma/pothos-types.js";
import { getDatamodel } from "../generated/prisma/pothos-types.js";
import { rules } from "./validation.js";

/**
 * The one SchemaBuilder. Plugins: scope-auth (`t.withAuth({ viewer: true })`
 * gives fields that require a logged-in viewer, UNAUTHENTICATED otherwise, and
 * types `ctx.viewer` non-null in their resolvers; a connection type they share is
 * wrapped in {@link forViewer}), prisma (types from models,
 * one planned query per request instead of N+1), relay (Connection/Edge/PageInfo),
 * validation (zod rules on arguments → BAD_USER_INPUT naming the field).
 * Every schema/*.ts file imports it and adds its types.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { viewer: boolean };
  AuthContexts: { viewer: ViewerContext };
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    File: { Input: File; Output: never };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ValidationPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ viewer: ctx.viewer !== null }),
    // check a subscription's scopes when it starts (its subscribe reads the viewer), not only on each event
    authorizeOnSubscribe: true,
    unauthorizedError: () => unauthenticated(),
  },
  prisma: {
    dmmf: getDatamodel(),
    // the client is per app instance (tests run several), so it comes from the context
    client: (ctx) => ctx.app.db,
    filterConnectionTotalCount: true,
    onUnusedQuery: process.env.NODE_ENV === "production" ? null : "warn",
  },
  relay: {
    cursorType: "String",
    clientMutationId: "omit",
    // tampered Prisma cursors are BAD_USER_INPUT on after / before (validation.ts rules.cursor)
    afterArgOptions: { validate: rules.cursor },
    beforeArgOptions: { validate: rules.cursor },
  },
  validation: {
    validationError: (failure) => {
      const [first] = failure.issues;
      const field = first?.path?.map((p) => (typeof p === "object" ? p.key : p)).join(".") ?? "";
      return new GraphQLError(`${field ? `${field}: ` : ""}${first?.message ?? "Invalid input"}`, {
        extensions: {
          code: "BAD_USER_INPUT",
          field,
          issues: failure.issues.map((i) => ({
            field: i.path?.map((p) => (typeof p === "object" ? p.key : p)).join("."),
            message: i.message,
          })),
        },
      });
    },
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("JSON", JSONResolver);
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

type Types = typeof builder.$inferSchemaTypes;

/**
 * A connection type made with builder.connectionObject, typed for the fields of
 * `t.withAuth({ viewer: true })`: withAuth narrows the context in the builder's type
 * parameters, which a ref carries, so it would not take a ref made on the plain
 * builder. The type is the same object at run time; only its static type changes.
 */
export const forViewer = <T, P>(ref: ObjectRef<Types, T, P>) =>
  ref as unknown as ObjectRef<ReplaceContext<Types, ContextForAuth<Types, { viewer: true }> & object>, T, P>;
