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

CREATE FUNCTION expert_profiles_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO expert_calendar_versions (expert_id) VALUES (NEW.id);
    ELSE
        UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER expert_profiles_calendar_version
AFTER INSERT OR UPDATE OF name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days
ON expert_profiles
FOR EACH ROW EXECUTE FUNCTION expert_profiles_calendar_version();

-- For rows that belong to an expert (expert_id): bump that expert, before and after a move.
CREATE FUNCTION bump_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = OLD.expert_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.expert_id IS DISTINCT FROM OLD.expert_id) THEN
        UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.expert_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER expert_availability_calendar_version
AFTER INSERT OR UPDATE OR DELETE ON expert_availability
FOR EACH ROW EXECUTE FUNCTION bump_calendar_version();

CREATE TRIGGER date_overrides_calendar_version
AFTER INSERT OR UPDATE OR DELETE ON date_overrides
FOR EACH ROW EXECUTE FUNCTION bump_calendar_version();

-- Sync bookkeeping (sync_status, external ids) does not change slots, so it does not count.
CREATE TRIGGER appointments_calendar_version
AFTER INSERT OR DELETE OR UPDATE OF expert_id, start_time, end_time, status ON appointments
FOR EACH ROW EXECUTE FUNCTION bump_calendar_version();
