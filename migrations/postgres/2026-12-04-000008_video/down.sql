DROP TRIGGER expert_profiles_calendar_version ON expert_profiles;
CREATE TRIGGER expert_profiles_calendar_version
AFTER INSERT OR UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days
ON expert_profiles
FOR EACH ROW EXECUTE FUNCTION expert_profiles_calendar_version();
ALTER TABLE sync_jobs DROP COLUMN meeting_pending;
ALTER TABLE appointments DROP COLUMN meeting_error, DROP COLUMN meeting_url;
ALTER TABLE expert_profiles
    DROP CONSTRAINT expert_profiles_video_url_static,
    DROP CONSTRAINT expert_profiles_video,
    DROP COLUMN video_url,
    DROP COLUMN video;
