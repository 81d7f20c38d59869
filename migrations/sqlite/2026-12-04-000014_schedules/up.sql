-- Named schedules (#16): an expert's availability templates ("term time", "summer"), exactly one
-- of them the default, and periods of dates on which another one applies instead of the default.
-- The weekly rules and date overrides that were the expert's one schedule become the default
-- schedule (its id is the expert's id, so existing experts and new ones get a stable one without
-- generating ids in SQL). Rules and overrides are JSON arrays in the domain's own serde shape
-- ([{day_of_week, start_time, end_time, is_available}], [{date, windows:[{start_time, end_time}]}]):
-- a schedule is always read and written whole. The default schedule's zone is the expert's zone
-- (expert_profiles.timezone, mirrored here by a trigger).
CREATE TABLE expert_schedules (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    rules TEXT NOT NULL,
    overrides TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX expert_schedules_expert ON expert_schedules (expert_id, created_at);
-- Exactly one default: at most one here, at least one because the default cannot be deleted and
-- is only ever unset in the transaction that sets another.
CREATE UNIQUE INDEX expert_schedules_one_default ON expert_schedules (expert_id) WHERE is_default;

INSERT INTO expert_schedules (id, expert_id, name, timezone, rules, overrides, is_default, created_at)
SELECT p.id, p.id, 'Working hours', p.timezone,
    (SELECT json_group_array(json_object(
            'day_of_week', a.day_of_week, 'start_time', a.start_time, 'end_time', a.end_time,
            'is_available', json(CASE WHEN a.is_available THEN 'true' ELSE 'false' END)))
        FROM (SELECT * FROM expert_availability WHERE expert_id = p.id ORDER BY position) a),
    (SELECT json_group_array(json_object('date', o.date, 'windows', json(o.windows)))
        FROM (SELECT * FROM date_overrides WHERE expert_id = p.id ORDER BY date) o),
    TRUE, p.created_at
FROM expert_profiles p;

DROP TABLE expert_availability;
DROP TABLE date_overrides;

-- Every expert has a default schedule from the start (empty: no hours yet).
CREATE TRIGGER expert_profiles_default_schedule AFTER INSERT ON expert_profiles
BEGIN
    INSERT INTO expert_schedules (id, expert_id, name, timezone, rules, overrides, is_default, created_at)
    VALUES (NEW.id, NEW.id, 'Working hours', NEW.timezone, '[]', '[]', TRUE, NEW.created_at);
END;
CREATE TRIGGER expert_profiles_default_schedule_zone AFTER UPDATE OF timezone ON expert_profiles
BEGIN
    UPDATE expert_schedules SET timezone = NEW.timezone WHERE expert_id = NEW.id AND is_default;
END;

-- Dates inclusive, in the expert's zone; no two of an expert's periods share a date (checked when
-- they are written, under the expert's lock). Removed with their schedule.
CREATE TABLE schedule_periods (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    schedule_id TEXT NOT NULL REFERENCES expert_schedules (id) ON DELETE CASCADE,
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    PRIMARY KEY (expert_id, from_date),
    CHECK (from_date <= to_date)
);

-- Both are part of what a slot query reads of the expert (cached per calendar version).
CREATE TRIGGER expert_schedules_calendar_version_insert AFTER INSERT ON expert_schedules
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.expert_id;
END;
CREATE TRIGGER expert_schedules_calendar_version_update AFTER UPDATE ON expert_schedules
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id IN (OLD.expert_id, NEW.expert_id);
END;
CREATE TRIGGER expert_schedules_calendar_version_delete AFTER DELETE ON expert_schedules
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = OLD.expert_id;
END;
CREATE TRIGGER schedule_periods_calendar_version_insert AFTER INSERT ON schedule_periods
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.expert_id;
END;
CREATE TRIGGER schedule_periods_calendar_version_update AFTER UPDATE ON schedule_periods
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id IN (OLD.expert_id, NEW.expert_id);
END;
CREATE TRIGGER schedule_periods_calendar_version_delete AFTER DELETE ON schedule_periods
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = OLD.expert_id;
END;
