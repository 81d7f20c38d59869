-- Integrations: where each connected calendar stands (credentials themselves stay encrypted in
-- expert_profiles' credential columns), single-use OAuth states, and the booking outbox.

CREATE TABLE expert_integrations (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    integration_type TEXT NOT NULL
        CHECK (integration_type IN ('google_calendar', 'office365_calendar', 'calendly')),
    status TEXT NOT NULL CHECK (status IN ('connected', 'needs_reauth')),
    account TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    connected_at BIGINT NOT NULL,
    last_synced_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    PRIMARY KEY (expert_id, integration_type)
);

-- OAuth states are stored hashed; the PKCE verifier is encrypted. Single use, 10 minutes.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    integration_type TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- One outbox row per appointment whose external event must catch up with it. version changes
-- whenever the appointment changes, so a worker finishing an older version leaves the row.
-- A worker claims a row by a compare-and-set on claimed_until (a lease), so two processes never
-- run one job at the same time.
CREATE TABLE sync_jobs (
    appointment_id TEXT PRIMARY KEY NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    expert_id TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    due_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_until BIGINT,
    claim_token TEXT,
    first_queued_at BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX sync_jobs_due ON sync_jobs (due_at);

ALTER TABLE appointments ADD COLUMN sync_error TEXT;
