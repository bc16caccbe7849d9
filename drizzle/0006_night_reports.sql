CREATE TABLE "night_reports" (
	"night_id" uuid PRIMARY KEY NOT NULL,
	"figures" jsonb NOT NULL,
	"computed_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "night_reports" ADD CONSTRAINT "night_reports_night_id_nights_id_fk" FOREIGN KEY ("night_id") REFERENCES "public"."nights"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bookings_night_created_idx" ON "bookings" USING btree ("night_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);