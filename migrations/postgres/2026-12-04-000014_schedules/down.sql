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
SELECT s.expert_id, (r.n - 1)::int, (r.v->>'day_of_week')::int, r.v->>'start_time', r.v->>'end_time',
    (r.v->>'is_available')::boolean
FROM expert_schedules s, json_array_elements(s.rules::json) WITH ORDINALITY AS r(v, n) WHERE s.is_default;
INSERT INTO date_overrides (expert_id, date, windows)
SELECT s.expert_id, o.v->>'date', (o.v->'windows')::text
FROM expert_schedules s, json_array_elements(s.overrides::json) AS o(v) WHERE s.is_default;
DROP TABLE schedule_periods;
DROP TRIGGER expert_profiles_default_schedule ON expert_profiles;
DROP FUNCTION expert_profiles_default_schedule();
DROP TABLE expert_schedules;
CREATE TRIGGER expert_availability_calendar_version
AFTER INSERT OR UPDATE OR DELETE ON expert_availability
FOR EACH ROW EXECUTE FUNCTION bump_calendar_version();
CREATE TRIGGER date_overrides_calendar_version
AFTER INSERT OR UPDATE OR DELETE ON date_overrides
FOR EACH ROW EXECUTE FUNCTION bump_calendar_version();
