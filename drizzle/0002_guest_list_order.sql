DROP INDEX "guest_entries_night_name_idx";--> statement-breakpoint
CREATE INDEX "guest_entries_night_name_idx" ON "guest_entries" USING btree ("night_id",lower("name") collate "C","id");