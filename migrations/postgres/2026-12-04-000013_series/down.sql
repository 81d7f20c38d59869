DROP TRIGGER expert_profiles_calendar_version ON expert_profiles;
CREATE TRIGGER expert_profiles_calendar_version
AFTER INSERT OR UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days, video, video_url,
    max_bookings_per_day, max_bookings_per_week, max_bookings_per_month, max_booked_minutes_per_day
ON expert_profiles
FOR EACH ROW EXECUTE FUNCTION expert_profiles_calendar_version();
ALTER TABLE expert_profiles DROP CONSTRAINT expert_profiles_max_series, DROP COLUMN max_series_occurrences;
DROP INDEX appointments_series;
ALTER TABLE appointments DROP COLUMN series_id;
DROP TABLE series;
