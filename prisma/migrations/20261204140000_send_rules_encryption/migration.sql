-- Room rules on the send path (chat/room-rules.ts): slow mode and blocked words.
ALTER TABLE "Room" ADD COLUMN "slowModeSeconds" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "blockedWords" TEXT[] DEFAULT ARRAY[]::TEXT[];
ALTER TABLE "RoomMember" ADD COLUMN "lastSentAt" TIMESTAMP(3);

-- Encryption at rest (security/message-encryption.ts): the key each content is
-- sealed with (null: stored as sent), indexed for the re-encryption job.
ALTER TABLE "Message" ADD COLUMN "contentKeyId" TEXT;
ALTER TABLE "MessageEdit" ADD COLUMN "contentKeyId" TEXT;
CREATE INDEX "Message_contentKeyId_idx" ON "Message"("contentKeyId");
CREATE INDEX "MessageEdit_contentKeyId_idx" ON "MessageEdit"("contentKeyId");

-- Search over sealed messages (MESSAGE_SEARCH=on with encryption): the lexemes of
-- each message's text, which the GIN index on to_tsvector('simple', content) can
-- no longer give. Plaintext words at rest, by design (docs/security.md).
CREATE TABLE "MessageSearch" (
    "messageId" UUID NOT NULL,
    "vector" tsvector NOT NULL,

    CONSTRAINT "MessageSearch_pkey" PRIMARY KEY ("messageId")
);
ALTER TABLE "MessageSearch" ADD CONSTRAINT "MessageSearch_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE INDEX "MessageSearch_vector_idx" ON "MessageSearch" USING GIN ("vector");

-- chat_send_message gains the room rules: it takes the message's words (p_words,
-- normalized by chat/room-rules.ts wordsOf) and returns retry_after (seconds) with
-- the status slow_mode; and encryption at rest: p_content may be sealed, under the
-- key p_content_key_id (null: as sent), and p_search_text, when given, is the
-- text whose lexemes go to MessageSearch. Its arguments and result change, so it
-- is dropped and made anew.
DROP FUNCTION chat_send_message(uuid, uuid, uuid, uuid, "MessageType", text, uuid, uuid, text, uuid[], timestamp(3), timestamp(3), jsonb);

-- Stores one message, or says why not; see chat/messages.ts Messages.send.
-- Returns one row: `status` and, for 'sent' and 'retry', the message as JSON
-- (to_jsonb of the row: timestamps in UTC without an offset) and, for 'sent',
-- the seq of its MessageAdded event; for 'slow_mode', `retry_after`. Statuses, in
-- the order they are checked:
--   unauthenticated  p_session_id is given and is not a live session of p_sender_id
--   no_room          no such room, or a GROUP/DIRECT/BROADCAST room the sender is not a member of
--   join_first       a PUBLIC room the sender has not joined
--   blocked          a DIRECT room of a blocked pair
--   broadcast_member a BROADCAST room's MEMBER (only OWNERs and ADMINs post)
--   retry            p_client_message_id was used by this sender: the stored message
--   slow_mode        the room's slowModeSeconds > 0, the sender is a MEMBER (OWNERs and
--                    ADMINs are exempt) and their previous message in the room was sent
--                    less than that long before p_now; retry_after: whole seconds until
--                    they may send again (≥ 1)
--   blocked_word     one of p_words (the content's words, normalized) is in the room's blockedWords
--   bad_reply        p_reply_to_id is not a message of the room
--   bad_thread       p_thread_root_id is not a live top-level message of the room
--   sent             stored: the room's lastSeq and lastEventSeq bumped, the sender's
--                    read marker and lastSentAt moved, the message inserted (with its
--                    MessageSearch row when p_search_text is given), the thread root
--                    counted, and the MessageAdded event stored (p_event, plus its seq)
-- The room row is locked (FOR UPDATE) before the membership is read, so a
-- concurrent removal either commits first (no_room) or waits for this send; the
-- same lock orders one member's concurrent sends for slow mode.
-- A concurrent retry with the same p_client_message_id fails on the unique key.
CREATE FUNCTION chat_send_message(
  p_session_id uuid, p_sender_id uuid, p_room_id uuid, p_message_id uuid, p_type "MessageType", p_content text,
  p_reply_to_id uuid, p_thread_root_id uuid, p_client_message_id text, p_mentioned_ids uuid[], p_expires_at timestamp(3),
  p_now timestamp(3), p_event jsonb, p_words text[], p_content_key_id text, p_search_text text)
RETURNS TABLE (status text, event_seq integer, message jsonb, retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_room "Room";
  v_role "RoomRole";
  v_last_sent timestamp(3);
  v_seq integer;
  v_message "Message";
BEGIN
  IF p_session_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM "Session" s WHERE s.id = p_session_id AND s."userId" = p_sender_id AND s."revokedAt" IS NULL AND s."expiresAt" > p_now) THEN
    RETURN QUERY SELECT 'unauthenticated', NULL::integer, NULL::jsonb, NULL::integer;
    RETURN;
  END IF;
  SELECT * INTO v_room FROM "Room" r WHERE r.id = p_room_id FOR UPDATE;
  SELECT m.role, m."lastSentAt" INTO v_role, v_last_sent FROM "RoomMember" m WHERE m."roomId" = p_room_id AND m."userId" = p_sender_id;
  IF v_role IS NULL THEN
    RETURN QUERY SELECT CASE WHEN v_room.type = 'PUBLIC' THEN 'join_first' ELSE 'no_room' END, NULL::integer, NULL::jsonb, NULL::integer;
    RETURN;
  END IF;
  IF chat_dm_blocked(p_room_id, p_sender_id) THEN
    RETURN QUERY SELECT 'blocked', NULL::integer, NULL::jsonb, NULL::integer;
    RETURN;
  END IF;
  IF v_room.type = 'BROADCAST' AND v_role = 'MEMBER' THEN
    RETURN QUERY SELECT 'broadcast_member', NULL::integer, NULL::jsonb, NULL::integer;
    RETURN;
  END IF;
  IF p_client_message_id IS NOT NULL THEN
    SELECT * INTO v_message FROM "Message" m WHERE m."senderId" = p_sender_id AND m."clientMessageId" = p_client_message_id;
    IF FOUND THEN
      RETURN QUERY SELECT 'retry', NULL::integer, to_jsonb(v_message), NULL::integer;
      RETURN;
    END IF;
  END IF;
  IF v_room."slowModeSeconds" > 0 AND v_role = 'MEMBER' AND v_last_sent IS NOT NULL
     AND v_last_sent + make_interval(secs => v_room."slowModeSeconds") > p_now THEN
    RETURN QUERY SELECT 'slow_mode', NULL::integer, NULL::jsonb,
      GREATEST(1, ceil(extract(epoch FROM v_last_sent + make_interval(secs => v_room."slowModeSeconds") - p_now)))::integer;
    RETURN;
  END IF;
  IF v_room."blockedWords" && p_words THEN
    RETURN QUERY SELECT 'blocked_word', NULL::integer, NULL::jsonb, NULL::integer;
    RETURN;
  END IF;
  IF p_reply_to_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "Message" m WHERE m.id = p_reply_to_id AND m."roomId" = p_room_id) THEN
    RETURN QUERY SELECT 'bad_reply', NULL::integer, NULL::jsonb, NULL::integer;
    RETURN;
  END IF;
  IF p_thread_root_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM "Message" m WHERE m.id = p_thread_root_id AND m."roomId" = p_room_id AND m."threadRootId" IS NULL AND m."deletedAt" IS NULL) THEN
    RETURN QUERY SELECT 'bad_thread', NULL::integer, NULL::jsonb, NULL::integer;
    RETURN;
  END IF;

  UPDATE "Room" r SET "lastSeq" = r."lastSeq" + 1, "lastEventSeq" = r."lastEventSeq" + 1, "lastActivityAt" = p_now, "updatedAt" = p_now
    WHERE r.id = p_room_id RETURNING r."lastSeq", r."lastEventSeq" INTO v_seq, event_seq;
  UPDATE "RoomMember" m SET "lastReadSeq" = v_seq, "lastSentAt" = p_now WHERE m."roomId" = p_room_id AND m."userId" = p_sender_id;
  INSERT INTO "Message" (id, "roomId", seq, "senderId", type, content, "contentKeyId", "replyToId", "threadRootId", "clientMessageId", "mentionedIds", "expiresAt", "createdAt")
    VALUES (p_message_id, p_room_id, v_seq, p_sender_id, p_type, p_content, p_content_key_id, p_reply_to_id, p_thread_root_id, p_client_message_id, COALESCE(p_mentioned_ids, '{}'), p_expires_at, p_now)
    RETURNING * INTO v_message;
  IF p_search_text IS NOT NULL THEN
    INSERT INTO "MessageSearch" ("messageId", vector) VALUES (p_message_id, to_tsvector('simple', p_search_text));
  END IF;
  IF p_thread_root_id IS NOT NULL THEN
    UPDATE "Message" m SET "threadReplyCount" = m."threadReplyCount" + 1, "threadLastReplyAt" = p_now WHERE m.id = p_thread_root_id;
  END IF;
  INSERT INTO "StoredEvent" ("roomId", seq, payload) VALUES (p_room_id, event_seq, p_event || jsonb_build_object('seq', event_seq));
  RETURN QUERY SELECT 'sent', event_seq, to_jsonb(v_message), NULL::integer;
END
$$;
