-- AlterTable
ALTER TABLE "RoomMember" ADD COLUMN     "hiddenAtSeq" INTEGER;
