import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isNonNullType,
  isObjectType,
  isRequiredArgument,
  isUnionType,
} from "graphql";

/** Which root type a field is on; also the operation keyword. */
export type OperationKind = "query" | "mutation" | "subscription";

/** A field of Query, Mutation or Subscription. */
export interface RootField {
  kind: OperationKind;
  name: string;
  field: GraphQLField<unknown, unknown>;
}

/** Every root field of `schema`: Query's, then Mutation's, then Subscription's, each in schema order. */
export function rootFields(schema: GraphQLSchema): RootField[] {
  const roots = [
    ["query", schema.getQueryType()],
    ["mutation", schema.getMutationType()],
    ["subscription", schema.getSubscriptionType()],
  ] as const;
  return roots.flatMap(([kind, type]) => Object.values(type?.getFields() ?? {}).map((field) => ({ kind, name: field.name, field })));
}

/**
 * An argument of a field, or a field of an input object somewhere inside one:
 * `path` from the argument down (e.g. `["input", "threadRootId"]`), `name` its last
 * part; `required` when non-null without a default.
 */
export interface InputSlot {
  path: string[];
  name: string;
  type: GraphQLInputType;
  required: boolean;
}

const slotOf = (input: GraphQLArgument | GraphQLInputField, prefix: string[]): InputSlot => ({
  path: [...prefix, input.name],
  name: input.name,
  type: input.type,
  required: isNonNullType(input.type) && input.defaultValue === undefined,
});

/** Every argument of `field` and, recursively, every field of its input-object arguments. */
export function inputSlots(field: GraphQLField<unknown, unknown>): InputSlot[] {
  const walk = (inputs: readonly (GraphQLArgument | GraphQLInputField)[], prefix: string[]): InputSlot[] =>
    inputs.flatMap((input) => {
      const slot = slotOf(input, prefix);
      const named = getNamedType(input.type);
      return isInputObjectType(named) ? [slot, ...walk(Object.values(named.getFields()), slot.path)] : [slot];
    });
  return walk(field.args, []);
}

/**
 * Gives the value of one leaf slot (an input object's own value is built from
 * its fields), or undefined to leave an optional slot out.
 */
export type Fill = (slot: InputSlot) => unknown;

function valueFrom(slot: InputSlot, fill: Fill): unknown {
  const named = getNamedType(slot.type);
  if (isInputObjectType(named)) {
    const entries = Object.values(named.getFields())
      .map((f) => [f.name, valueFrom(slotOf(f, slot.path), fill)] as const)
      .filter(([, value]) => value !== undefined);
    return entries.length > 0 || slot.required ? Object.fromEntries(entries) : undefined;
  }
  const value = fill(slot);
  if (value === undefined && slot.required) throw new Error(`no value for the required ${slot.path.join(".")}`);
  return value;
}

/**
 * One operation calling `root` with every argument as a variable: the values
 * come from `fill` (input objects are built field by field), and `selection` is
 * the selection set of the result ("" for a leaf type).
 * @throws Error when `fill` leaves a required slot without a value.
 */
export function operation(root: RootField, fill: Fill, selection: string): { query: string; variables: Record<string, unknown> } {
  const variables: Record<string, unknown> = {};
  for (const arg of root.field.args) {
    const value = valueFrom(slotOf(arg, []), fill);
    if (value !== undefined) variables[arg.name] = value;
  }
  const names = Object.keys(variables);
  const type = (name: string) => root.field.args.find((a) => a.name === name)!.type.toString();
  const definitions = names.length ? `(${names.map((n) => `$${n}: ${type(n)}`).join(", ")})` : "";
  const args = names.length ? `(${names.map((n) => `${n}: $${n}`).join(", ")})` : "";
  return { query: `${root.kind}${definitions} { ${root.name}${args}${selection ? ` ${selection}` : ""} }`, variables };
}

/**
 * The smallest selection of a result: "" for a leaf type; for an object or
 * interface its first leaf field without required arguments; else `__typename`.
 */
export function minimalSelection(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return "";
  const fields = isObjectType(named) || isInterfaceType(named) ? Object.values(named.getFields()) : [];
  const leaf = fields.find((f) => isLeafType(getNamedType(f.type)) && !f.args.some(isRequiredArgument));
  return `{ ${leaf?.name ?? "__typename"} }`;
}

/**
 * Everything reachable from a result: every field without required arguments,
 * recursively, except that no object type appears more than `maxVisits` times on
 * one path (with 1, Room → lastMessage → room is not followed: the Room is
 * already selected; with 2 the selection of a Room is about 60 kB). A union
 * gets an inline fragment per member type.
 */
export function deepSelection(type: GraphQLOutputType, maxVisits = 1, path: readonly string[] = []): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return "";
  if (isUnionType(named))
    return `{ __typename ${named
      .getTypes()
      .map((member) => `... on ${member.name} ${deepSelection(member, maxVisits, path)}`)
      .join(" ")} }`;
  const here = [...path, named.name];
  const parts = ["__typename"];
  for (const field of Object.values(named.getFields())) {
    if (field.args.some(isRequiredArgument)) continue;
    const fieldType = getNamedType(field.type);
    if (isLeafType(fieldType)) parts.push(field.name);
    else if (here.filter((n) => n === fieldType.name).length < maxVisits)
      parts.push(`${field.name} ${deepSelection(fieldType, maxVisits, here)}`);
  }
  return `{ ${parts.join(" ")} }`;
}
