/**
 * What both React examples render (ApolloRoom.tsx, UrqlRoom.tsx): a room's
 * messages, oldest first, and a form that sends one. The library-specific part
 * is only where the messages come from and how `onSend` sends.
 */
import type { RoomMessageFragment } from "../generated/graphql.js";

export interface MessageListProps {
  /** Oldest first, each once. */
  messages: readonly RoomMessageFragment[];
  /** Sends `content` (trimmed, not empty). */
  onSend(content: string): unknown;
  /** An error to show (the query's or the last send's). */
  error?: string;
}

/** The list (`<li data-seq>` per message: "sender: content") and the send form. */
export function MessageList({ messages, onSend, error }: MessageListProps) {
  return (
    <section>
      {error && <p role="alert">{error}</p>}
      <ul>
        {messages.map((m) => (
          <li key={m.id} data-seq={m.seq}>
            {m.sender.displayName}: {m.content}
          </li>
        ))}
      </ul>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const form = event.currentTarget;
          const content = String(new FormData(form).get("content") ?? "").trim();
          if (content) void onSend(content);
          form.reset();
        }}
      >
        <input name="content" aria-label="Message" maxLength={5000} />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

/** `older` (newest first, as `messages` pages) then `live` (in arrival order), oldest first, each id once. */
export function timeline(older: readonly RoomMessageFragment[], live: readonly RoomMessageFragment[]): RoomMessageFragment[] {
  const seen = new Set<string>();
  return [...older]
    .reverse()
    .concat(live)
    .filter((m) => !seen.has(m.id) && seen.add(m.id));
}
