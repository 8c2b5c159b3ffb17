-- Audio and video attachments: their duration in seconds (attachments/media.ts); width and height now describe videos too.
ALTER TABLE "Attachment" ADD COLUMN "durationSeconds" DOUBLE PRECISION;
