CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Instants are Unix seconds (BIGINT) in both backends: exact, cheap to compare, and what the slot
-- engine works in. Ids are UUIDs as text.

CREATE TABLE expert_profiles (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    timezone TEXT NOT NULL,
    integration_type TEXT NOT NULL DEFAULT 'manual'
        CHECK (integration_type IN ('manual', 'google_calendar', 'office365_calendar', 'calendly')),
    google_calendar_credentials TEXT,
    office365_calendar_credentials TEXT,
    calendly_config TEXT,
    slot_duration_minutes INTEGER NOT NULL DEFAULT 30,
    slot_interval_minutes INTEGER NOT NULL DEFAULT 30,
    buffer_before_minutes INTEGER NOT NULL DEFAULT 0,
    buffer_after_minutes INTEGER NOT NULL DEFAULT 0,
    minimum_notice_minutes INTEGER NOT NULL DEFAULT 0,
    booking_horizon_days INTEGER NOT NULL DEFAULT 60,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    created_at BIGINT NOT NULL
);

-- One row per weekly rule; position keeps the order the expert sent them in.
CREATE TABLE expert_availability (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    day_of_week INTEGER NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    is_available BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (expert_id, position)
);

-- One row per overridden date; windows is a JSON array of {start_time, end_time} (empty: day off).
CREATE TABLE date_overrides (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    date TEXT NOT NULL,
    windows TEXT NOT NULL,
    PRIMARY KEY (expert_id, date)
);

CREATE TABLE appointments (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled', 'pending')),
    calendar_type TEXT CHECK (calendar_type IN ('google', 'office365', 'calendly')),
    external_calendar_event_id TEXT,
    sync_status TEXT NOT NULL DEFAULT 'not_applicable',
    cancellation_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (start_time < end_time),
    -- The last line of defence against double booking: two confirmed appointments of one expert
    -- can never overlap, whatever the application does.
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
        expert_id WITH =,
        int8range(start_time, end_time) WITH &&
    ) WHERE (status = 'confirmed')
);
CREATE INDEX appointments_expert_time ON appointments (expert_id, start_time, end_time);
CREATE INDEX appointments_client_time ON appointments (client_id, start_time);

-- API tokens are stored only as SHA-256 hashes (they are 256-bit random strings).
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'expert', 'client')),
    subject_id TEXT,
    created_at BIGINT NOT NULL
);

-- Idempotency-Key answers, per caller, kept 24 hours.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
