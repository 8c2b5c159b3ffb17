-- Catch-up sync (src/sync/): which rows changed since a client's last sync.
-- A sync reads under one PostgreSQL snapshot and hands it to the client as its
-- cursor (src/sync/cursor.ts). A row whose "xid" (the writing transaction's id,
-- 64-bit, never wraps) is not visible in that snapshot was written after the
-- client's sync: pg_visible_in_snapshot(xid, cursor snapshot) is false. This is
-- exact whatever the commit order of concurrent writers, which a timestamp or a
-- global sequence is not.

-- Messages: new since the cursor (the column default: set by chat_send_message's INSERT).
ALTER TABLE "Message" ADD COLUMN "xid" xid8 NOT NULL DEFAULT pg_current_xact_id();

-- Rooms and memberships: every INSERT or UPDATE stamps the row (a send bumps
-- Room.lastSeq; a read moves RoomMember.lastReadSeq; mute and archive change the member).
ALTER TABLE "Room" ADD COLUMN "xid" xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE "RoomMember" ADD COLUMN "xid" xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE FUNCTION chat_stamp_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."xid" := pg_current_xact_id();
  RETURN NEW;
END
$$;
CREATE TRIGGER "Room_stamp_xid" BEFORE UPDATE ON "Room" FOR EACH ROW EXECUTE FUNCTION chat_stamp_xid();
CREATE TRIGGER "RoomMember_stamp_xid" BEFORE UPDATE ON "RoomMember" FOR EACH ROW EXECUTE FUNCTION chat_stamp_xid();

-- A user's own event log: what myEvents announced (invites, rooms joined and
-- left, contact requests, mentions), stored in the transaction that made the
-- change, so sync and myEvents(after:) can replay it. Rows older than the sync
-- retention window (SYNC_RETENTION_DAYS) are swept.
CREATE TABLE "UserEventLog" (
    "id" BIGSERIAL NOT NULL,
    "userId" UUID NOT NULL,
    "payload" JSONB NOT NULL,
    "xid" xid8 NOT NULL DEFAULT pg_current_xact_id(),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UserEventLog_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "UserEventLog_userId_xid_idx" ON "UserEventLog"("userId", "xid");
CREATE INDEX "UserEventLog_createdAt_idx" ON "UserEventLog"("createdAt");
ALTER TABLE "UserEventLog" ADD CONSTRAINT "UserEventLog_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
