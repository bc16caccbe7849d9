-- pg_trgm backs the trigram indexes on guest and streamer names (PGlite loads it from its contrib).
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subject" text NOT NULL,
	"display_name" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_subject_unique" UNIQUE("subject")
);
--> statement-breakpoint
CREATE TABLE "clubs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"timezone" text NOT NULL,
	"currency" char(3) DEFAULT 'EUR' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "clubs_slug_unique" UNIQUE("slug"),
	CONSTRAINT "clubs_slug_format" CHECK ("clubs"."slug" ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
	CONSTRAINT "clubs_currency_format" CHECK ("clubs"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "nights" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"club_id" uuid NOT NULL,
	"starts_at" timestamp (3) with time zone NOT NULL,
	"ends_at" timestamp (3) with time zone NOT NULL,
	"availability_version" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "nights_club_starts_at_key" UNIQUE("club_id","starts_at"),
	CONSTRAINT "nights_ends_after_start" CHECK ("nights"."ends_at" > "nights"."starts_at")
);
--> statement-breakpoint
CREATE TABLE "tables" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"club_id" uuid NOT NULL,
	"label" text NOT NULL,
	"capacity" integer NOT NULL,
	"min_deposit_minor" integer DEFAULT 0 NOT NULL,
	"zone" text,
	"x" integer NOT NULL,
	"y" integer NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	CONSTRAINT "tables_club_label_key" UNIQUE("club_id","label"),
	CONSTRAINT "tables_capacity_positive" CHECK ("tables"."capacity" > 0),
	CONSTRAINT "tables_min_deposit_nonnegative" CHECK ("tables"."min_deposit_minor" >= 0),
	CONSTRAINT "tables_position_nonnegative" CHECK ("tables"."x" >= 0 and "tables"."y" >= 0),
	CONSTRAINT "tables_size_positive" CHECK ("tables"."width" > 0 and "tables"."height" > 0)
);
--> statement-breakpoint
CREATE TABLE "bookings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"night_id" uuid NOT NULL,
	"table_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"party_size" integer NOT NULL,
	"status" text DEFAULT 'held' NOT NULL,
	"hold_expires_at" timestamp (3) with time zone,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bookings_party_size_positive" CHECK ("bookings"."party_size" > 0),
	CONSTRAINT "bookings_status_valid" CHECK ("bookings"."status" in ('held', 'confirmed', 'cancelled', 'expired')),
	CONSTRAINT "bookings_hold_has_expiry" CHECK ("bookings"."status" <> 'held' or "bookings"."hold_expires_at" is not null)
);
--> statement-breakpoint
CREATE TABLE "deposits" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"amount_minor" integer NOT NULL,
	"currency" char(3) NOT NULL,
	"recorded_by" uuid NOT NULL,
	"recorded_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	CONSTRAINT "deposits_amount_positive" CHECK ("deposits"."amount_minor" > 0),
	CONSTRAINT "deposits_currency_format" CHECK ("deposits"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "table_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"night_id" uuid NOT NULL,
	"table_id" uuid NOT NULL,
	"booking_id" uuid,
	"opened_by" uuid NOT NULL,
	"opened_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"closed_by" uuid,
	"closed_at" timestamp (3) with time zone,
	CONSTRAINT "table_sessions_closed_after_open" CHECK ("table_sessions"."closed_at" is null or "table_sessions"."closed_at" >= "table_sessions"."opened_at")
);
--> statement-breakpoint
CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"club_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"code" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "check_ins" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"night_id" uuid NOT NULL,
	"guest_entry_id" uuid,
	"booking_id" uuid,
	"gate" text NOT NULL,
	"checked_in_by" uuid,
	"checked_in_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "check_ins_one_subject" CHECK (num_nonnulls("check_ins"."guest_entry_id", "check_ins"."booking_id") = 1)
);
--> statement-breakpoint
CREATE TABLE "guest_entries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"night_id" uuid NOT NULL,
	"name" text NOT NULL,
	"phone" text,
	"agent_id" uuid,
	"token" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "songs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"club_id" uuid NOT NULL,
	"title" text NOT NULL,
	"artist" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vote_session_songs" (
	"session_id" uuid NOT NULL,
	"song_id" uuid NOT NULL,
	"position" integer NOT NULL,
	CONSTRAINT "vote_session_songs_session_id_song_id_pk" PRIMARY KEY("session_id","song_id")
);
--> statement-breakpoint
CREATE TABLE "vote_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"club_id" uuid NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"started_by" uuid,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp (3) with time zone,
	CONSTRAINT "vote_sessions_status_valid" CHECK ("vote_sessions"."status" in ('active', 'ended')),
	CONSTRAINT "vote_sessions_ended_has_time" CHECK (("vote_sessions"."status" = 'ended') = ("vote_sessions"."ended_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "votes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"song_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"cast_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "streamers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"platform" text NOT NULL,
	"handle" text NOT NULL,
	"display_name" text NOT NULL,
	"wishlist_url" text,
	"next_sync_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"sync_lease_token" uuid,
	"sync_lease_until" timestamp (3) with time zone,
	"last_synced_at" timestamp (3) with time zone,
	"last_sync_error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_streamers" (
	"user_id" uuid NOT NULL,
	"streamer_id" uuid NOT NULL,
	"tracked_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_streamers_user_id_streamer_id_pk" PRIMARY KEY("user_id","streamer_id")
);
--> statement-breakpoint
CREATE TABLE "wishlist_items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"streamer_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"title" text NOT NULL,
	"price_minor" integer,
	"currency" char(3),
	"url" text,
	"image_url" text,
	"first_seen_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp (3) with time zone,
	CONSTRAINT "wishlist_items_price_nonnegative" CHECK ("wishlist_items"."price_minor" is null or "wishlist_items"."price_minor" >= 0),
	CONSTRAINT "wishlist_items_price_has_currency" CHECK (("wishlist_items"."price_minor" is null) = ("wishlist_items"."currency" is null))
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"dedup_key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"available_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"lease_token" uuid,
	"lease_until" timestamp (3) with time zone,
	"processed_at" timestamp (3) with time zone,
	"dead_at" timestamp (3) with time zone,
	"last_error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "nights" ADD CONSTRAINT "nights_club_id_clubs_id_fk" FOREIGN KEY ("club_id") REFERENCES "public"."clubs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tables" ADD CONSTRAINT "tables_club_id_clubs_id_fk" FOREIGN KEY ("club_id") REFERENCES "public"."clubs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_night_id_nights_id_fk" FOREIGN KEY ("night_id") REFERENCES "public"."nights"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_table_id_tables_id_fk" FOREIGN KEY ("table_id") REFERENCES "public"."tables"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_session_id_table_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."table_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deposits" ADD CONSTRAINT "deposits_recorded_by_users_id_fk" FOREIGN KEY ("recorded_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "table_sessions" ADD CONSTRAINT "table_sessions_night_id_nights_id_fk" FOREIGN KEY ("night_id") REFERENCES "public"."nights"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "table_sessions" ADD CONSTRAINT "table_sessions_table_id_tables_id_fk" FOREIGN KEY ("table_id") REFERENCES "public"."tables"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "table_sessions" ADD CONSTRAINT "table_sessions_booking_id_bookings_id_fk" FOREIGN KEY ("booking_id") REFERENCES "public"."bookings"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "table_sessions" ADD CONSTRAINT "table_sessions_opened_by_users_id_fk" FOREIGN KEY ("opened_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "table_sessions" ADD CONSTRAINT "table_sessions_closed_by_users_id_fk" FOREIGN KEY ("closed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_club_id_clubs_id_fk" FOREIGN KEY ("club_id") REFERENCES "public"."clubs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "check_ins" ADD CONSTRAINT "check_ins_night_id_nights_id_fk" FOREIGN KEY ("night_id") REFERENCES "public"."nights"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "check_ins" ADD CONSTRAINT "check_ins_guest_entry_id_guest_entries_id_fk" FOREIGN KEY ("guest_entry_id") REFERENCES "public"."guest_entries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "check_ins" ADD CONSTRAINT "check_ins_booking_id_bookings_id_fk" FOREIGN KEY ("booking_id") REFERENCES "public"."bookings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "check_ins" ADD CONSTRAINT "check_ins_checked_in_by_users_id_fk" FOREIGN KEY ("checked_in_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "guest_entries" ADD CONSTRAINT "guest_entries_night_id_nights_id_fk" FOREIGN KEY ("night_id") REFERENCES "public"."nights"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "guest_entries" ADD CONSTRAINT "guest_entries_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "guest_entries" ADD CONSTRAINT "guest_entries_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "songs" ADD CONSTRAINT "songs_club_id_clubs_id_fk" FOREIGN KEY ("club_id") REFERENCES "public"."clubs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vote_session_songs" ADD CONSTRAINT "vote_session_songs_session_id_vote_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."vote_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vote_session_songs" ADD CONSTRAINT "vote_session_songs_song_id_songs_id_fk" FOREIGN KEY ("song_id") REFERENCES "public"."songs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vote_sessions" ADD CONSTRAINT "vote_sessions_club_id_clubs_id_fk" FOREIGN KEY ("club_id") REFERENCES "public"."clubs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vote_sessions" ADD CONSTRAINT "vote_sessions_started_by_users_id_fk" FOREIGN KEY ("started_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "votes" ADD CONSTRAINT "votes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "votes" ADD CONSTRAINT "votes_session_song_fk" FOREIGN KEY ("session_id","song_id") REFERENCES "public"."vote_session_songs"("session_id","song_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_streamers" ADD CONSTRAINT "user_streamers_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_streamers" ADD CONSTRAINT "user_streamers_streamer_id_streamers_id_fk" FOREIGN KEY ("streamer_id") REFERENCES "public"."streamers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wishlist_items" ADD CONSTRAINT "wishlist_items_streamer_id_streamers_id_fk" FOREIGN KEY ("streamer_id") REFERENCES "public"."streamers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "nights_starts_at_idx" ON "nights" USING btree ("starts_at");--> statement-breakpoint
CREATE UNIQUE INDEX "bookings_live_table_key" ON "bookings" USING btree ("night_id","table_id") WHERE "bookings"."status" in ('held', 'confirmed');--> statement-breakpoint
CREATE UNIQUE INDEX "bookings_user_idempotency_key" ON "bookings" USING btree ("user_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "bookings_hold_expiry_idx" ON "bookings" USING btree ("hold_expires_at") WHERE "bookings"."status" = 'held';--> statement-breakpoint
CREATE INDEX "bookings_user_created_idx" ON "bookings" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "deposits_recorder_idempotency_key" ON "deposits" USING btree ("recorded_by","idempotency_key");--> statement-breakpoint
CREATE INDEX "deposits_session_recorded_idx" ON "deposits" USING btree ("session_id","recorded_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "table_sessions_open_table_key" ON "table_sessions" USING btree ("night_id","table_id") WHERE "table_sessions"."closed_at" is null;--> statement-breakpoint
CREATE INDEX "table_sessions_night_table_idx" ON "table_sessions" USING btree ("night_id","table_id","opened_at");--> statement-breakpoint
CREATE INDEX "table_sessions_booking_idx" ON "table_sessions" USING btree ("booking_id");--> statement-breakpoint
CREATE UNIQUE INDEX "agents_code_key" ON "agents" USING btree ("code");--> statement-breakpoint
CREATE UNIQUE INDEX "agents_club_user_key" ON "agents" USING btree ("club_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "check_ins_guest_entry_key" ON "check_ins" USING btree ("guest_entry_id") WHERE "check_ins"."guest_entry_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "check_ins_booking_key" ON "check_ins" USING btree ("booking_id") WHERE "check_ins"."booking_id" is not null;--> statement-breakpoint
CREATE INDEX "check_ins_night_time_idx" ON "check_ins" USING btree ("night_id","checked_in_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "check_ins_night_gate_time_idx" ON "check_ins" USING btree ("night_id","gate","checked_in_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "guest_entries_token_key" ON "guest_entries" USING btree ("token");--> statement-breakpoint
CREATE INDEX "guest_entries_night_name_idx" ON "guest_entries" USING btree ("night_id","name","id");--> statement-breakpoint
CREATE INDEX "guest_entries_name_trgm_idx" ON "guest_entries" USING gin ("name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "guest_entries_night_phone_idx" ON "guest_entries" USING btree ("night_id","phone");--> statement-breakpoint
CREATE INDEX "guest_entries_agent_idx" ON "guest_entries" USING btree ("agent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "songs_club_title_artist_key" ON "songs" USING btree ("club_id","title","artist");--> statement-breakpoint
CREATE UNIQUE INDEX "vote_sessions_active_club_key" ON "vote_sessions" USING btree ("club_id") WHERE "vote_sessions"."status" = 'active';--> statement-breakpoint
CREATE INDEX "vote_sessions_club_started_idx" ON "vote_sessions" USING btree ("club_id","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "votes_session_user_key" ON "votes" USING btree ("session_id","user_id");--> statement-breakpoint
CREATE INDEX "votes_session_song_idx" ON "votes" USING btree ("session_id","song_id");--> statement-breakpoint
CREATE UNIQUE INDEX "streamers_platform_handle_key" ON "streamers" USING btree ("platform",lower("handle"));--> statement-breakpoint
CREATE INDEX "streamers_next_sync_idx" ON "streamers" USING btree ("next_sync_at");--> statement-breakpoint
CREATE INDEX "streamers_display_name_trgm_idx" ON "streamers" USING gin ("display_name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "user_streamers_user_tracked_idx" ON "user_streamers" USING btree ("user_id","tracked_at" DESC NULLS LAST,"streamer_id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "user_streamers_streamer_idx" ON "user_streamers" USING btree ("streamer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "wishlist_items_streamer_external_key" ON "wishlist_items" USING btree ("streamer_id","external_id");--> statement-breakpoint
CREATE INDEX "wishlist_items_streamer_live_idx" ON "wishlist_items" USING btree ("streamer_id","first_seen_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "wishlist_items"."removed_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_dedup_key" ON "outbox" USING btree ("dedup_key");--> statement-breakpoint
CREATE INDEX "outbox_pending_idx" ON "outbox" USING btree ("available_at","id") WHERE "outbox"."processed_at" is null and "outbox"."dead_at" is null;