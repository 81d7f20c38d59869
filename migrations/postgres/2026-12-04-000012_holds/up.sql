-- Holds (#16): a client's short reservation of a time, checked like a booking and then blocking
-- it for everyone else until it expires (expires_at, exclusive), is released or is booked. One
-- per client and expert. Two holds of one expert can never overlap (the exclusion constraint);
-- a hold and a confirmed appointment never overlap because both are written only inside the
-- expert's locked transaction (a row lock on the expert, in every process), which removes the
-- expired holds first and checks the rest with the slot engine.
CREATE TABLE holds (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (start_time < end_time),
    UNIQUE (expert_id, client_id),
    CONSTRAINT holds_no_overlap EXCLUDE USING gist (
        expert_id WITH =,
        int8range(start_time, end_time) WITH &&
    )
);

-- A hold is part of what a slot query reads of the expert (cached per calendar version).
CREATE TRIGGER holds_calendar_version
AFTER INSERT OR UPDATE OR DELETE ON holds
FOR EACH ROW EXECUTE FUNCTION bump_calendar_version();
