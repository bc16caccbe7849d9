CREATE TABLE "club_staff" (
	"club_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" text NOT NULL,
	"added_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"added_by" uuid,
	"removed_at" timestamp (3) with time zone,
	CONSTRAINT "club_staff_club_id_user_id_pk" PRIMARY KEY("club_id","user_id"),
	CONSTRAINT "club_staff_role_valid" CHECK ("club_staff"."role" in ('host', 'manager'))
);
--> statement-breakpoint
ALTER TABLE "nights" DROP CONSTRAINT "nights_club_starts_at_key";--> statement-breakpoint
ALTER TABLE "nights" ADD COLUMN "status" text DEFAULT 'scheduled' NOT NULL;--> statement-breakpoint
ALTER TABLE "nights" ADD COLUMN "cancelled_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "nights" ADD COLUMN "cancel_reason" text;--> statement-breakpoint
ALTER TABLE "tables" ADD COLUMN "retired_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "club_staff" ADD CONSTRAINT "club_staff_club_id_clubs_id_fk" FOREIGN KEY ("club_id") REFERENCES "public"."clubs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "club_staff" ADD CONSTRAINT "club_staff_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "club_staff" ADD CONSTRAINT "club_staff_added_by_users_id_fk" FOREIGN KEY ("added_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "club_staff_user_idx" ON "club_staff" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "nights_scheduled_starts_at_idx" ON "nights" USING btree ("starts_at","id") WHERE "nights"."status" = 'scheduled';--> statement-breakpoint
ALTER TABLE "nights" ADD CONSTRAINT "nights_status_valid" CHECK ("nights"."status" in ('scheduled', 'cancelled'));--> statement-breakpoint
ALTER TABLE "nights" ADD CONSTRAINT "nights_cancelled_has_time" CHECK (("nights"."status" = 'cancelled') = ("nights"."cancelled_at" is not null));--> statement-breakpoint
-- No two scheduled nights of a club overlap: the database decides, not a check-then-insert.
-- (btree_gist lets a GiST index compare the club id with =.)
CREATE EXTENSION IF NOT EXISTS btree_gist;--> statement-breakpoint
ALTER TABLE "nights" ADD CONSTRAINT "nights_no_overlap" EXCLUDE USING gist ("club_id" WITH =, tstzrange("starts_at", "ends_at") WITH &&) WHERE ("status" = 'scheduled');
