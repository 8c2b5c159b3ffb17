/**
 * fast-check arbitraries of hostile input for test/fuzz.test.ts: argument
 * values (wrong types, extreme numbers, garbage and tampered cursors, foreign
 * and random IDs, Unicode edge cases), operations of the schema with such
 * arguments, malformed query strings, malformed HTTP requests and malformed
 * graphql-ws frames.
 */
import fc from "fast-check";

/** The content limit of sendMessage / editMessage (src/schema/validation.ts `rules.content`, seed 001), in code points. */
export const CONTENT_LIMIT = 5000;

/** Real ids of the fixtures the fuzzer may aim at (rooms, messages and users of the viewer and of others). */
export interface Targets {
  ids: string[];
  /** A room the fuzzing users are members of, where Unicode content is sent. */
  roomId: string;
}

/** Unicode edge cases, each as a whole string: bidi overrides, joiners, 4-byte characters, lone surrogates, NUL, combining marks. */
export const UNICODE_EDGES = [
  "\u202eevil.exe\u202c", // RTL override
  "\u2066isolate\u2069\u200f",
  "👨‍👩‍👧‍👦", // ZWJ sequence
  "🏳️‍🌈 flag, 👍🏽 skin tone",
  "𝕳𝖊𝖑𝖑𝖔 𐍈 𠜎", // 4-byte (astral) characters
  "\u200b\u200c\u200d\u2060zero widths",
  "\ufeffBOM first",
  "e\u0301\u0302\u0303\u0304\u0305 Z̴̡̢̛̗̘̙̜̝̞̟̠̀́̂̃̄̅̆̇̉̊̋̌̍̎̏̐̑̒̓̔̕̚ͅ", // combining marks
  "NUL\u0000inside",
  "lone \ud800 high surrogate",
  "lone \udfff low surrogate",
  "\udc00\ud800 reversed pair",
  "\u0085\u2028\u2029 line separators",
  "\u00a0\u3000 ideographic space ",
  "<script>alert(1)</script>",
  '\'; DROP TABLE "Message"; --',
  "%s%n%x {{7*7}} ${7*7}",
  "\\u0000 \\ud800 escaped, not real",
];

/** One Unicode unit: any code point, an edge case, or a lone surrogate. */
const unicodeUnit = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...UNICODE_EDGES) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom("\u0000", " ", "\t", "\n", "\u202e", "\u200d", "😀", "\u0301") },
);

/** Message content: mostly short mixes of {@link unicodeUnit}s, and sizes around the limit (4,999–5,001 units, ASCII or 4-byte). */
export const messageContent: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: unicodeUnit, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "   ", "\u3000\n\t") },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: CONTENT_LIMIT - 1, max: CONTENT_LIMIT + 1 }), fc.constantFrom("x", "é", "😀", "𝕏", "👍🏽"))
      .map(([n, c]) => c.repeat(n)),
  },
);

/** Tampered sync cursors (sync/cursor.ts: "s1." + base64url JSON of a pg_snapshot's text and a time): snapshots PostgreSQL refuses, odd times. */
const syncCursor = fc
  .record({
    s: fc.oneof(
      fc.constantFrom(
        "1:1:",
        "5:3:",
        "0:0:",
        "3:5:6",
        "3:10:5,4",
        "3:10:4,4",
        "18446744073709551615:18446744073709551615:",
        "99999999999999999999:1:",
      ),
      fc.string({ maxLength: 20 }),
    ),
    t: fc.oneof(fc.constant(Date.now()), fc.constantFrom(0, -1, 1e21, Number.MAX_SAFE_INTEGER, 0.5), fc.string({ maxLength: 5 })),
  })
  .map((c) => `s1.${Buffer.from(JSON.stringify(c)).toString("base64url")}`);

/** Tampered cursors: base64 of Pothos' `GPC:` chunks with wrong types or non-UUID ids, seq cursors out of range, sync cursors, garbage. */
const cursor = (targets: Targets) =>
  fc.oneof(
    syncCursor,
    fc.constantFrom("", "0", "-1", "1", "01", "9999999999", "2147483648", "1e3", "NaN", "null", "GPC:", "====", "\u0000"),
    fc.string({ maxLength: 30 }),
    fc.string({ maxLength: 30 }).map((s) => Buffer.from(s).toString("base64")),
    fc
      .oneof(
        fc.constantFrom(...targets.ids).map((id) => `S:${id}`),
        fc.string({ maxLength: 40 }).map((s) => `S:${s}`),
        fc.constantFrom("N:1", "N:1e+21", "N:NaN", "I:1", "D:0", "B:AAAA", "Z:", "O:{}", "O:[1]", "X:1", "S:", 'J:{"a":1}'),
      )
      .map((chunk) => Buffer.from(`GPC:${chunk}`).toString("base64")),
  );

/** IDs: the fixtures' (rooms and messages of others too), random UUIDs, near-UUIDs and garbage. */
const id = (targets: Targets) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...targets.ids) },
    { weight: 1, arbitrary: fc.constantFrom(...targets.ids).map((i) => i.toUpperCase()) },
    { weight: 2, arbitrary: fc.uuid() },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "",
        "0",
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid",
        "1; DROP TABLE x",
        "\u0000",
        "../../etc/passwd",
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: unicodeUnit, maxLength: 40 }) },
  );

/** Integers around every boundary that matters: page sizes, Int32, JavaScript's safe range. */
const int = fc.oneof(
  fc.integer({ min: -3, max: 120 }),
  fc.constantFrom(-1, 0, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, 1e21, 0.5, -0.0),
);

/** Any JSON value of a wrong type (objects, arrays, booleans, floats, huge strings). */
const wrongType = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant("x".repeat(100_000)),
  fc.array(fc.constant("x"), { maxLength: 2000 }),
);

/** What a variable of each GraphQL type is given: mostly plausible values of that type, sometimes hostile ones or anything. */
const valueFrom = (targets: Targets) =>
  ({
    ID: id(targets),
    Cursor: cursor(targets),
    String: fc.oneof(
      messageContent,
      fc.constantFrom("hello", "@alice hi", "👍", "https://example.com/a.png", "en", "Europe/Paris", "+14155550123"),
    ),
    Int: int,
    Boolean: fc.boolean(),
    DateTime: fc.constantFrom(
      "2030-01-01T00:00:00Z",
      "0000-01-01T00:00:00Z",
      "-271821-04-20T00:00:00Z",
      "275760-09-13T00:00:00Z",
      "9999-12-31T23:59:59.999Z",
      "yesterday",
      "2024-02-30T00:00:00Z",
      "",
    ),
    Enum: fc.constantFrom(
      "GROUP",
      "PUBLIC",
      "BROADCAST",
      "DIRECT",
      "MEMBER",
      "ADMIN",
      "OWNER",
      "TEXT",
      "VOICE",
      "SYSTEM",
      "INCOMING",
      "OUTGOING",
      "ONLINE",
      "OFFLINE",
      "nope",
    ),
  }) satisfies Record<string, fc.Arbitrary<unknown>>;

type Kind = keyof ReturnType<typeof valueFrom>;

/** An operation template: the document, and the kind of value each variable takes (an object spec for input objects). */
interface Template {
  query: string;
  vars: Record<string, Kind | Record<string, Kind>>;
}

const PAGE = { first: "Int", last: "Int", after: "Cursor", before: "Cursor" } as const;
const CONNECTION = `edges { cursor node { __typename } } pageInfo { endCursor hasNextPage }`;

/**
 * Operations of the schema, every argument a variable (declared with a loose
 * type where the schema's is stricter, so wrong types reach coercion).
 */
export const TEMPLATES: Template[] = [
  {
    query: `query($roomId: ID!, $first: Int, $last: Int, $after: String, $before: String) { messages(roomId: $roomId, first: $first, last: $last, after: $after, before: $before) { ${CONNECTION} edges { node { id content } } } }`,
    vars: { roomId: "ID", ...PAGE },
  },
  {
    query: `query($first: Int, $last: Int, $after: String, $before: String, $archived: Boolean) { myRooms(first: $first, last: $last, after: $after, before: $before, archived: $archived) { ${CONNECTION} } }`,
    vars: { ...PAGE, archived: "Boolean" },
  },
  {
    query: `query($first: Int, $after: String, $search: String) { publicRooms(first: $first, after: $after, search: $search) { ${CONNECTION} } }`,
    vars: { first: "Int", after: "Cursor", search: "String" },
  },
  {
    query: `query($first: Int, $last: Int, $after: String, $before: String, $search: String) { users(first: $first, last: $last, after: $after, before: $before, search: $search) { ${CONNECTION} } }`,
    vars: { ...PAGE, search: "String" },
  },
  {
    query: `query($query: String!, $roomId: ID, $first: Int, $after: String) { searchMessages(query: $query, roomId: $roomId, first: $first, after: $after) { ${CONNECTION} edges { node { snippet } } } }`,
    vars: { query: "String", roomId: "ID", first: "Int", after: "Cursor" },
  },
  {
    query: `query($id: ID!, $n: Int) { room(id: $id) { id name eventCursor members(first: $n) { role user { id } } lastMessage { id thread(first: $n) { ${CONNECTION} } } } }`,
    vars: { id: "ID", n: "Int" },
  },
  { query: `query($id: ID!) { user(id: $id) { id username status lastSeenAt } }`, vars: { id: "ID" } },
  {
    query: `query($first: Int, $after: String, $unread: Boolean) { notifications(first: $first, after: $after, unread: $unread) { ${CONNECTION} } contacts(first: $first, after: $after) { ${CONNECTION} } }`,
    vars: { first: "Int", after: "Cursor", unread: "Boolean" },
  },
  {
    query: `query($since: String, $limit: Int) { sync(since: $since, limitPerRoom: $limit) { nextCursor rooms { room { id } messages { id content } limited previousCursor } leftRooms { roomId } invites { id } } }`,
    vars: { since: "Cursor", limit: "Int" },
  },
  {
    query: `query($d: ContactRequestDirection) { contactRequests(direction: $d) { id } myInvites { id } mySessions { id } blockedUsers { id } me { id } }`,
    vars: { d: "Enum" },
  },
  {
    query: `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id content seq } }`,
    vars: {
      input: {
        roomId: "ID",
        content: "String",
        replyToId: "ID",
        threadRootId: "ID",
        expiresIn: "Int",
        clientMessageId: "String",
        type: "Enum",
      },
    },
  },
  {
    query: `mutation($id: ID!, $content: String!) { editMessage(id: $id, content: $content) { id content } }`,
    vars: { id: "ID", content: "String" },
  },
  { query: `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, vars: { id: "ID" } },
  { query: `mutation($id: ID!) { pinMessage(id: $id) { id } }`, vars: { id: "ID" } },
  { query: `mutation($m: ID!, $e: String!) { addReaction(messageId: $m, emoji: $e) { id } }`, vars: { m: "ID", e: "String" } },
  { query: `mutation($m: ID!, $e: String!) { removeReaction(messageId: $m, emoji: $e) { id } }`, vars: { m: "ID", e: "String" } },
  { query: `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { id unreadCount } }`, vars: { r: "ID", m: "ID" } },
  { query: `mutation($r: ID!, $s: Int!) { markDelivered(roomId: $r, upToSeq: $s) { id } }`, vars: { r: "ID", s: "Int" } },
  {
    query: `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`,
    vars: { input: { name: "String", type: "Enum", description: "String", avatar: "String", maxMembers: "Int" } },
  },
  {
    query: `mutation($r: ID!, $input: UpdateRoomInput!) { updateRoom(roomId: $r, input: $input) { id } }`,
    vars: { r: "ID", input: { name: "String", description: "String", avatar: "String", maxMembers: "Int" } },
  },
  { query: `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`, vars: { r: "ID" } },
  { query: `mutation($r: ID!, $until: DateTime) { muteRoom(roomId: $r, until: $until) { id } }`, vars: { r: "ID", until: "DateTime" } },
  {
    query: `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role } }`,
    vars: { r: "ID", u: "ID", role: "Enum" },
  },
  { query: `mutation($r: ID!, $u: ID!) { inviteToRoom(roomId: $r, userId: $u) { id } }`, vars: { r: "ID", u: "ID" } },
  { query: `mutation($u: ID!) { directRoom(userId: $u) { id } }`, vars: { u: "ID" } },
  { query: `mutation($u: ID!) { sendContactRequest(userId: $u) { id } }`, vars: { u: "ID" } },
  { query: `mutation($r: ID!, $t: Boolean!) { setTyping(roomId: $r, isTyping: $t) }`, vars: { r: "ID", t: "Boolean" } },
  {
    query: `mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { id } }`,
    vars: {
      input: {
        displayName: "String",
        bio: "String",
        firstName: "String",
        avatar: "String",
        language: "String",
        timezone: "String",
        phoneNumber: "String",
        status: "Enum",
      },
    },
  },
  {
    query: `mutation($input: RegisterInput!) { register(input: $input) { accessToken } }`,
    vars: { input: { username: "String", email: "String", password: "String", firstName: "String", lastName: "String", bio: "String" } },
  },
  {
    query: `mutation($input: LoginInput!) { login(input: $input) { accessToken } }`,
    vars: { input: { username: "String", email: "String", password: "String", deviceId: "String" } },
  },
  { query: `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`, vars: { t: "Cursor" } },
  // never the fuzzing users' password: a wrong one must write nothing
  { query: `mutation($p: String!) { deleteAccount(password: $p) }`, vars: { p: "String" } },
  { query: `query { exportMyData }`, vars: {} },
  // subscriptions over plain HTTP (no text/event-stream): refused, never run
  { query: `subscription { myEvents { __typename } }`, vars: {} },
  {
    query: `subscription($r: ID!, $after: String) { messageAdded(roomId: $r, after: $after) { id } roomEvents(roomId: $r, after: $after) { __typename } }`,
    vars: { r: "ID", after: "Cursor" },
  },
  { query: `subscription($r: ID!) { typing(roomId: $r) { isTyping } }`, vars: { r: "ID" } },
];

/** A template's variables: each declared one mostly of its kind, sometimes of a wrong type, sometimes left out. */
function variables(targets: Targets, vars: Template["vars"]): fc.Arbitrary<Record<string, unknown>> {
  const values = valueFrom(targets);
  const one = (kind: Kind) =>
    fc.oneof({ weight: 6, arbitrary: values[kind] as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: wrongType });
  const record = (spec: Record<string, Kind>) =>
    fc.record(Object.fromEntries(Object.entries(spec).map(([k, kind]) => [k, one(kind)])), { requiredKeys: [] });
  return fc.record(
    Object.fromEntries(
      Object.entries(vars).map(([name, kind]) => [
        name,
        typeof kind === "string" ? one(kind) : fc.oneof({ weight: 6, arbitrary: record(kind) }, { weight: 1, arbitrary: wrongType }),
      ]),
    ),
    { requiredKeys: [] },
  );
}

/** Who sends an operation: one of the fuzzing users' tokens, a garbage token, or none. */
export type Caller = "member" | "outsider" | "anonymous" | "garbage";

/** An operation of {@link TEMPLATES} with fuzzed variables, sent by a {@link Caller}. */
export const operation = (targets: Targets) =>
  fc
    .record({
      template: fc.constantFrom(...TEMPLATES),
      caller: fc.constantFrom<Caller>("member", "member", "outsider", "anonymous", "garbage"),
    })
    .chain(({ template, caller }) => variables(targets, template.vars).map((vars) => ({ query: template.query, variables: vars, caller })));

/** Malformed GraphQL documents: cut-off and mangled real operations, unbalanced braces, deep nesting, many aliases, random text. */
export const malformedQuery: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom(...TEMPLATES.map((t) => t.query)), fc.nat()).map(([q, n]) => q.slice(0, n % q.length)),
  fc
    .tuple(
      fc.constantFrom(...TEMPLATES.map((t) => t.query)),
      fc.nat(),
      fc.constantFrom("{", "}", "(", ")", "$", '"', "...", "@skip", "#", "\u0000", "😀"),
    )
    .map(([q, n, s]) => q.slice(0, n % q.length) + s + q.slice(n % q.length)),
  fc.integer({ min: 1, max: 5000 }).map((n) => "{ me ".repeat(n) + "}".repeat(n)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => "{".repeat(n)),
  fc.integer({ min: 1, max: 3000 }).map((n) => `{ me { ${Array.from({ length: n }, (_, i) => `a${i}: id`).join(" ")} } }`),
  fc.integer({ min: 1, max: 500 }).map((n) => `{ me { id ${"...F ".repeat(n)} } } fragment F on User { id }`),
  fc.integer({ min: 1, max: 200 }).map((n) => `query { ${"me { id } ".repeat(n)} } `.repeat(2)),
  fc.constantFrom(
    "",
    " ",
    "query",
    "{}",
    "{ __typename }",
    "subscription { myEvents { __typename } }",
    "{ __schema { types { name fields { name } } } }",
    "query A { me { id } } query A { me { id } }",
    "{ me(id: 1) { id } }",
    "{ nope }",
  ),
  fc.string({ unit: unicodeUnit, maxLength: 200 }),
);

/** A raw HTTP request to /graphql: method, headers and body; `csrf` adds the CSRF header. */
export interface RawRequest {
  method: string;
  contentType: string | null;
  body: string | null;
  search: string;
  csrf: boolean;
}

/** Malformed HTTP requests: bad JSON, JSON of the wrong shape, huge variables, wrong content types and methods, odd GET parameters. */
export const malformedRequest: fc.Arbitrary<RawRequest> = fc.record({
  method: fc.constantFrom("POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"),
  contentType: fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/graphql-response+json",
    "application/graphql",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "application/octet-stream",
    "application/json; charset=latin1",
    null,
  ),
  body: fc.oneof(
    fc.constantFrom(
      "",
      "{",
      "null",
      "[]",
      '[{"query":"{ me { id } }"}]',
      "1",
      '"x"',
      "true",
      '{"query": null}',
      '{"query": 1}',
      '{"query": "{ me { id } }", "variables": "x"}',
      '{"query": "{ me { id } }", "variables": []}',
      '{"query": "{ me { id } }", "extensions": 1}',
      '{"query": "{ me { id } }", "operationName": 5}',
      '{"query": "{ me { id } }", "operationName": "Nope"}',
      '{"__proto__": {"query": "{ me { id } }"}}',
      "\u0000",
      '\ufeff{"query":"{ me { id } }"}',
    ),
    fc.json({ maxDepth: 4 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ query: "query($v: String) { me { id } }", variables: { v } })),
    fc
      .integer({ min: 1, max: 200_000 })
      .map((n) => JSON.stringify({ query: "query($v: [String!]) { me { id } }", variables: { v: Array.from({ length: n }, () => "x") } })),
    fc.integer({ min: 1, max: 5000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
    fc.integer({ min: 1, max: 5000 }).map((n) => `{"query": "{ me { id } }", "variables": ${'{"a":'.repeat(n)}1${"}".repeat(n)}}`),
    fc.string({ maxLength: 200 }),
    fc.constant(null),
  ),
  search: fc.oneof(
    fc.constant(""),
    fc.constantFrom(
      "?query={me{id}}",
      "?query=mutation{logout}",
      "?query={me{id}}&variables=nope",
      "?query={me{id}}&variables={}&operationName=X",
      "?query=",
      "?query=%00",
      "?query=%E0%A4%A",
      '?variables={"a":1}',
      "?query={me{id}}&query={__typename}",
      "?extensions=[]&query={me{id}}",
    ),
    fc.string({ maxLength: 50 }).map((s) => `?query=${encodeURIComponent(s)}`),
  ),
  csrf: fc.boolean(),
});

/** One graphql-ws frame as sent by a client: a text frame, or bytes (a binary frame). */
export type Frame = string | Buffer;

/**
 * Sequences of graphql-transport-ws frames, mostly malformed: invalid JSON,
 * unknown types, missing or wrong fields, subscribe before connection_init,
 * duplicate or huge ids, binary frames, repeated connection_init. `init` is a
 * valid connection_init for a real user.
 */
export const frames = (init: string) => {
  const subscribe = (id: unknown, query = "subscription { myEvents { __typename } }") =>
    JSON.stringify({ id, type: "subscribe", payload: { query } });
  const frame: fc.Arbitrary<Frame> = fc.oneof(
    fc.constant(init),
    fc.constantFrom(
      "",
      "{",
      "null",
      "[]",
      "42",
      '{"type":"nope"}',
      '{"type":null}',
      '{"type":"connection_init","payload":"x"}',
      '{"type":"connection_init","payload":[]}',
      '{"type":"connection_init","payload":{"authorization":1}}',
      '{"type":"connection_ack"}',
      '{"type":"next","id":"1","payload":{}}',
      '{"type":"subscribe","payload":{"query":"{ me { id } }"}}',
      '{"type":"subscribe","id":"1"}',
      '{"type":"subscribe","id":"1","payload":{"query":1}}',
      '{"type":"subscribe","id":"1","payload":{"query":"{ me { id } }","variables":"x"}}',
      '{"type":"subscribe","id":"1","payload":{"query":"{"}}',
      '{"type":"complete"}',
      '{"type":"complete","id":"unknown"}',
      '{"type":"ping"}',
      '{"type":"pong","payload":[]}',
      '{"type":"__proto__"}',
    ),
    fc.constantFrom("dup", "1", "").map((id) => subscribe(id)),
    fc.constantFrom(1, null, {}, ["x"]).map((id) => subscribe(id)),
    fc.integer({ min: 1_000, max: 200_000 }).map((n) => subscribe("i".repeat(n))),
    fc
      .constantFrom(
        'subscription { messageAdded(roomId: "x") { id } }',
        'subscription { typing(roomId: "00000000-0000-0000-0000-000000000000") { isTyping } }',
        "query { me { id } }",
        'mutation { setTyping(roomId: "x", isTyping: true) }',
      )
      .map((q) => subscribe("q", q)),
    fc.string({ unit: unicodeUnit, maxLength: 60 }),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    fc.constant(Buffer.from(init)),
  );
  return fc.array(frame, { minLength: 1, maxLength: 8 });
};
