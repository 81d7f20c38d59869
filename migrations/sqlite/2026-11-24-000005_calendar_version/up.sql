-- An expert's calendar version changes whenever anything a slot query reads of an expert changes: the profile
-- (zone, policy, integration), weekly rules, date overrides, appointments. Every server process
-- may keep what it read for a slot query and reuse it while the version is the same, so one
-- indexed read replaces five. Triggers keep it, so no write path (and no other process) can
-- forget to.
CREATE TABLE expert_calendar_versions (
    expert_id TEXT PRIMARY KEY NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO expert_calendar_versions (expert_id) SELECT id FROM expert_profiles;

CREATE TRIGGER expert_profiles_calendar_version_insert AFTER INSERT ON expert_profiles
BEGIN
    INSERT INTO expert_calendar_versions (expert_id) VALUES (NEW.id);
END;

CREATE TRIGGER expert_profiles_calendar_version
AFTER UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days
ON expert_profiles
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.id;
END;

CREATE TRIGGER expert_availability_calendar_version_insert AFTER INSERT ON expert_availability
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.expert_id;
END;
CREATE TRIGGER expert_availability_calendar_version_update AFTER UPDATE ON expert_availability
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id IN (OLD.expert_id, NEW.expert_id);
END;
CREATE TRIGGER expert_availability_calendar_version_delete AFTER DELETE ON expert_availability
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = OLD.expert_id;
END;

CREATE TRIGGER date_overrides_calendar_version_insert AFTER INSERT ON date_overrides
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.expert_id;
END;
CREATE TRIGGER date_overrides_calendar_version_update AFTER UPDATE ON date_overrides
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id IN (OLD.expert_id, NEW.expert_id);
END;
CREATE TRIGGER date_overrides_calendar_version_delete AFTER DELETE ON date_overrides
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = OLD.expert_id;
END;

-- Sync bookkeeping (sync_status, external ids) does not change slots, so it does not count.
CREATE TRIGGER appointments_calendar_version_insert AFTER INSERT ON appointments
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.expert_id;
END;
CREATE TRIGGER appointments_calendar_version_update
AFTER UPDATE OF expert_id, start_time, end_time, status ON appointments
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id IN (OLD.expert_id, NEW.expert_id);
END;
CREATE TRIGGER appointments_calendar_version_delete AFTER DELETE ON appointments
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = OLD.expert_id;
END;
