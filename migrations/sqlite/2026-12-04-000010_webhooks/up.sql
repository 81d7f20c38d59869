-- Outgoing webhooks (#17): endpoints an admin registers, and the delivery outbox.
--
-- An endpoint's signing secret is kept AES-256-GCM encrypted like credentials (shown once, at
-- creation). `events` is the JSON array of the event names it subscribes to.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per event per subscribed, enabled endpoint, written in the transaction of the change.
-- `seq` is the delivery's id and orders the events (a later event of an appointment waits for the
-- earlier ones to the same endpoint); `event_id` is the webhook-id, the same for every endpoint and every attempt;
-- `payload` is the exact body that is signed and sent. Claimed with leases like sync_jobs;
-- `first_queued_at` starts the 3-day retry window (a manual retry starts a new one).
CREATE TABLE webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    appointment_id TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    claim_token TEXT,
    first_queued_at BIGINT NOT NULL,
    last_error TEXT,
    last_status_code INTEGER,
    last_response TEXT,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, appointment_id, seq);
