-- Catch-up sync (src/sync/): `SyncRoom.joined`, "the membership began since the
-- cursor". RoomMember.xid moves with every update of the row (read marker, mute,
-- archive…), so the transaction that inserted it is kept apart: a membership
-- began after a sync iff its joinedXid is not visible in that sync's snapshot.
-- Not touched by chat_stamp_xid; leaving deletes the row, so joining again
-- inserts a new one with a new joinedXid. Rows older than this migration get its
-- transaction's id, which no cursor (taken after it) misses.
ALTER TABLE "RoomMember" ADD COLUMN "joinedXid" xid8 NOT NULL DEFAULT pg_current_xact_id();
