-- Back to one schedule per expert: the default one's rules and overrides; the others and the
-- periods are lost.
CREATE TABLE expert_availability (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    day_of_week INTEGER NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    is_available BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (expert_id, position)
);
CREATE TABLE date_overrides (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    date TEXT NOT NULL,
    windows TEXT NOT NULL,
    PRIMARY KEY (expert_id, date)
);
INSERT INTO expert_availability (expert_id, position, day_of_week, start_time, end_time, is_available)
SELECT s.expert_id, r.key, json_extract(r.value, '$.day_of_week'), json_extract(r.value, '$.start_time'),
    json_extract(r.value, '$.end_time'), json_extract(r.value, '$.is_available')
FROM expert_schedules s, json_each(s.rules) r WHERE s.is_default;
INSERT INTO date_overrides (expert_id, date, windows)
SELECT s.expert_id, json_extract(o.value, '$.date'), json_extract(o.value, '$.windows')
FROM expert_schedules s, json_each(s.overrides) o WHERE s.is_default;
DROP TABLE schedule_periods;
DROP TRIGGER expert_profiles_default_schedule;
DROP TRIGGER expert_profiles_default_schedule_zone;
DROP TABLE expert_schedules;
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
