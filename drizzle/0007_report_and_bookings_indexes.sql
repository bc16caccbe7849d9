DROP INDEX "bookings_night_created_idx";--> statement-breakpoint
DROP INDEX "outbox_campaign_idx";--> statement-breakpoint
CREATE INDEX "bookings_night_created_idx" ON "bookings" USING btree ("night_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "outbox_campaign_idx" ON "outbox" USING btree ("campaign_id","processed_at") WHERE "outbox"."campaign_id" is not null;