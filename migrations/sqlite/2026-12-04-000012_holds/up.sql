-- Holds (#16): a client's short reservation of a time, checked like a booking and then blocking
-- it for everyone else until it expires (expires_at, exclusive), is released or is booked. One
-- per client and expert. Expired holds are removed inside the expert's locked write transaction
-- (SQLite's write lock) before a hold or a booking is checked, so an expired one never blocks.
CREATE TABLE holds (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (start_time < end_time),
    UNIQUE (expert_id, client_id)
);
CREATE INDEX holds_expert_time ON holds (expert_id, start_time, end_time);

-- A hold is part of what a slot query reads of the expert (cached per calendar version).
CREATE TRIGGER holds_calendar_version_insert AFTER INSERT ON holds
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = NEW.expert_id;
END;
CREATE TRIGGER holds_calendar_version_delete AFTER DELETE ON holds
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1 WHERE expert_id = OLD.expert_id;
END;
