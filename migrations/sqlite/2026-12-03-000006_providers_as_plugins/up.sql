-- Providers as plug-ins: storage names no provider (see the PostgreSQL migration of the same
-- name for the design). SQLite cannot drop a CHECK constraint, so expert_profiles,
-- expert_integrations and appointments are rebuilt (the procedure of SQLite's ALTER TABLE
-- documentation: foreign keys off, new table, copy, drop, rename, indexes and triggers again,
-- foreign_key_check), all in one transaction.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE expert_profiles_new (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    timezone TEXT NOT NULL,
    integration_type TEXT NOT NULL DEFAULT 'manual'
        CHECK (length(integration_type) BETWEEN 2 AND 32 AND integration_type GLOB '[a-z]*'
               AND integration_type NOT GLOB '*[^a-z0-9_]*'),
    slot_duration_minutes INTEGER NOT NULL DEFAULT 30,
    slot_interval_minutes INTEGER NOT NULL DEFAULT 30,
    buffer_before_minutes INTEGER NOT NULL DEFAULT 0,
    buffer_after_minutes INTEGER NOT NULL DEFAULT 0,
    minimum_notice_minutes INTEGER NOT NULL DEFAULT 0,
    booking_horizon_days INTEGER NOT NULL DEFAULT 60,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO expert_profiles_new (id, name, email, timezone, integration_type, slot_duration_minutes,
    slot_interval_minutes, buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes,
    booking_horizon_days, created_at, updated_at)
SELECT id, name, email, timezone, integration_type, slot_duration_minutes, slot_interval_minutes,
    buffer_before_minutes, buffer_after_minutes, minimum_notice_minutes, booking_horizon_days,
    created_at, updated_at
FROM expert_profiles;

CREATE TABLE expert_integrations_new (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    integration_type TEXT NOT NULL
        CHECK (length(integration_type) BETWEEN 2 AND 32 AND integration_type GLOB '[a-z]*'
               AND integration_type NOT GLOB '*[^a-z0-9_]*'),
    status TEXT NOT NULL CHECK (status IN ('connected', 'needs_reauth')),
    account TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    connected_at BIGINT NOT NULL,
    last_synced_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    credentials TEXT,
    PRIMARY KEY (expert_id, integration_type)
);
INSERT INTO expert_integrations_new (expert_id, integration_type, status, account, settings, connected_at,
    last_synced_at, last_error, last_error_at, credentials)
SELECT ei.expert_id, ei.integration_type, ei.status, ei.account, ei.settings, ei.connected_at,
    ei.last_synced_at, ei.last_error, ei.last_error_at,
    CASE ei.integration_type
        WHEN 'google_calendar' THEN ep.google_calendar_credentials
        WHEN 'office365_calendar' THEN ep.office365_calendar_credentials
        WHEN 'calendly' THEN ep.calendly_config
    END
FROM expert_integrations ei JOIN expert_profiles ep ON ep.id = ei.expert_id;
-- A credential without a status row (no version wrote one, but nothing is dropped): connected.
INSERT INTO expert_integrations_new (expert_id, integration_type, status, settings, connected_at, credentials)
SELECT id, 'google_calendar', 'connected', '{}', updated_at, google_calendar_credentials FROM expert_profiles ep
WHERE google_calendar_credentials IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'google_calendar');
INSERT INTO expert_integrations_new (expert_id, integration_type, status, settings, connected_at, credentials)
SELECT id, 'office365_calendar', 'connected', '{}', updated_at, office365_calendar_credentials FROM expert_profiles ep
WHERE office365_calendar_credentials IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'office365_calendar');
INSERT INTO expert_integrations_new (expert_id, integration_type, status, settings, connected_at, credentials)
SELECT id, 'calendly', 'connected', '{}', updated_at, calendly_config FROM expert_profiles ep
WHERE calendly_config IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM expert_integrations ei WHERE ei.expert_id = ep.id AND ei.integration_type = 'calendly');

CREATE TABLE appointments_new (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled', 'pending')),
    calendar_type TEXT
        CHECK (calendar_type IS NULL OR (length(calendar_type) BETWEEN 2 AND 32 AND calendar_type GLOB '[a-z]*'
               AND calendar_type NOT GLOB '*[^a-z0-9_]*')),
    external_calendar_event_id TEXT,
    sync_status TEXT NOT NULL DEFAULT 'not_applicable',
    cancellation_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sync_error TEXT,
    scheduling_url TEXT CHECK (scheduling_url IS NULL OR status = 'pending'),
    CHECK (start_time < end_time)
);
INSERT INTO appointments_new (id, expert_id, client_id, start_time, end_time, status, calendar_type,
    external_calendar_event_id, sync_status, cancellation_reason, created_at, updated_at, sync_error,
    scheduling_url)
SELECT id, expert_id, client_id, start_time, end_time, status, calendar_type, external_calendar_event_id,
    sync_status, cancellation_reason, created_at, updated_at, sync_error, scheduling_url
FROM appointments;

DROP TABLE appointments;
ALTER TABLE appointments_new RENAME TO appointments;
DROP TABLE expert_integrations;
ALTER TABLE expert_integrations_new RENAME TO expert_integrations;
DROP TABLE expert_profiles;
ALTER TABLE expert_profiles_new RENAME TO expert_profiles;

CREATE INDEX appointments_expert_time ON appointments (expert_id, start_time, end_time);
CREATE INDEX appointments_client_time ON appointments (client_id, start_time);

-- The triggers of 000001 and 000005 on the rebuilt tables, as they were.
CREATE TRIGGER appointments_no_overlap_insert BEFORE INSERT ON appointments
WHEN NEW.status = 'confirmed' AND EXISTS (
    SELECT 1 FROM appointments a
    WHERE a.expert_id = NEW.expert_id AND a.status = 'confirmed' AND a.id <> NEW.id
      AND a.start_time < NEW.end_time AND NEW.start_time < a.end_time)
BEGIN
    SELECT RAISE(ABORT, 'appointments_no_overlap');
END;

CREATE TRIGGER appointments_no_overlap_update BEFORE UPDATE OF start_time, end_time, status ON appointments
WHEN NEW.status = 'confirmed' AND EXISTS (
    SELECT 1 FROM appointments a
    WHERE a.expert_id = NEW.expert_id AND a.status = 'confirmed' AND a.id <> NEW.id
      AND a.start_time < NEW.end_time AND NEW.start_time < a.end_time)
BEGIN
    SELECT RAISE(ABORT, 'appointments_no_overlap');
END;

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

-- An expert's connection number (see the PostgreSQL migration).
ALTER TABLE expert_calendar_versions ADD COLUMN connection BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER expert_integrations_connection_insert AFTER INSERT ON expert_integrations
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1, connection = connection + 1
    WHERE expert_id = NEW.expert_id;
END;
CREATE TRIGGER expert_integrations_connection_update
AFTER UPDATE OF expert_id, credentials, settings, status, connected_at ON expert_integrations
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1, connection = connection + 1
    WHERE expert_id IN (OLD.expert_id, NEW.expert_id);
END;
CREATE TRIGGER expert_integrations_connection_delete AFTER DELETE ON expert_integrations
BEGIN
    UPDATE expert_calendar_versions SET version = version + 1, connection = connection + 1
    WHERE expert_id = OLD.expert_id;
END;

COMMIT;
PRAGMA foreign_keys = ON;
