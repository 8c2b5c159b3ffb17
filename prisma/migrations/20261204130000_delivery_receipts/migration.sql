-- AlterTable
ALTER TABLE "RoomMember" ADD COLUMN     "lastDeliveredSeq" INTEGER NOT NULL DEFAULT 0;
