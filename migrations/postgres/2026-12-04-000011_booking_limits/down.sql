DROP TRIGGER expert_profiles_calendar_version ON expert_profiles;
CREATE TRIGGER expert_profiles_calendar_version
AFTER INSERT OR UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days, video, video_url
ON expert_profiles
FOR EACH ROW EXECUTE FUNCTION expert_profiles_calendar_version();
ALTER TABLE expert_profiles
    DROP CONSTRAINT expert_profiles_limits,
    DROP COLUMN max_booked_minutes_per_day,
    DROP COLUMN max_bookings_per_month,
    DROP COLUMN max_bookings_per_week,
    DROP COLUMN max_bookings_per_day;
