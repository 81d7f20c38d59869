-- Video meetings (#21). The booking policy says where an appointment's meeting comes from:
-- 'none', 'provider' (the expert's calendar makes it with the event) or 'static' (the expert's own
-- room, video_url, which only 'static' has). An appointment keeps its link (meeting_url) or why
-- the calendar made none (meeting_error). A sync job that wrote an event whose meeting the
-- calendar is still making stays queued with meeting_pending set: the outbox reads the meeting
-- again later instead of writing the event again.
ALTER TABLE expert_profiles ADD COLUMN video TEXT NOT NULL DEFAULT 'none'
    CHECK (video IN ('none', 'provider', 'static'));
ALTER TABLE expert_profiles ADD COLUMN video_url TEXT
    CHECK (video_url IS NULL OR video = 'static');
ALTER TABLE appointments ADD COLUMN meeting_url TEXT;
ALTER TABLE appointments ADD COLUMN meeting_error TEXT;
ALTER TABLE sync_jobs ADD COLUMN meeting_pending BOOLEAN NOT NULL DEFAULT FALSE;

-- The policy's video choice is part of what a booking reads of the expert (cached per calendar
-- version), so changing it bumps the version like the rest of the policy.
DROP TRIGGER expert_profiles_calendar_version;
CREATE TRIGGER expert_profiles_calendar_version
AFTER UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days, video, video_url
ON expert_profiles
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.id;
END;
