-- Recurring appointments (#16): a series is booked in one transaction; each occurrence is an
-- ordinary appointment that names its series. The booking policy caps a series' occurrences
-- (max_series_occurrences, 0: recurring bookings are off).
CREATE TABLE series (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    -- The recurrence as the API took it: {frequency, interval, count | until}.
    recurrence TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE appointments ADD COLUMN series_id TEXT REFERENCES series (id);
CREATE INDEX appointments_series ON appointments (series_id, start_time) WHERE series_id IS NOT NULL;
ALTER TABLE expert_profiles ADD COLUMN max_series_occurrences INTEGER NOT NULL DEFAULT 0
    CHECK (max_series_occurrences BETWEEN 0 AND 52);

DROP TRIGGER expert_profiles_calendar_version;
CREATE TRIGGER expert_profiles_calendar_version
AFTER UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days, video, video_url,
    max_bookings_per_day, max_bookings_per_week, max_bookings_per_month, max_booked_minutes_per_day,
    max_series_occurrences
ON expert_profiles
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.id;
END;
