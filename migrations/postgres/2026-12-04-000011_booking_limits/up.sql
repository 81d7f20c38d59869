-- Booking limits (#16, slot-semantics rule 10): at most so many bookings per local day, week and
-- month of the expert, and at most so many booked minutes per local day. NULL is no limit. The
-- domain validates the ranges; the CHECKs keep a hand-made row from breaking the reads.
ALTER TABLE expert_profiles
    ADD COLUMN max_bookings_per_day INTEGER,
    ADD COLUMN max_bookings_per_week INTEGER,
    ADD COLUMN max_bookings_per_month INTEGER,
    ADD COLUMN max_booked_minutes_per_day INTEGER,
    ADD CONSTRAINT expert_profiles_limits CHECK (
        (max_bookings_per_day IS NULL OR max_bookings_per_day BETWEEN 1 AND 1000)
        AND (max_bookings_per_week IS NULL OR max_bookings_per_week BETWEEN 1 AND 1000)
        AND (max_bookings_per_month IS NULL OR max_bookings_per_month BETWEEN 1 AND 1000)
        AND (max_booked_minutes_per_day IS NULL OR max_booked_minutes_per_day BETWEEN 1 AND 1440));

-- The limits are part of what a slot query reads of the expert (cached per calendar version).
DROP TRIGGER expert_profiles_calendar_version ON expert_profiles;
CREATE TRIGGER expert_profiles_calendar_version
AFTER INSERT OR UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days, video, video_url,
    max_bookings_per_day, max_bookings_per_week, max_bookings_per_month, max_booked_minutes_per_day
ON expert_profiles
FOR EACH ROW EXECUTE FUNCTION expert_profiles_calendar_version();
