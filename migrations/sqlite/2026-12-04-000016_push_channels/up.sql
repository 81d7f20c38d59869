-- Push notifications (#15): the channels the server opened on experts' calendars (Google's
-- events.watch), so that any server process can check a notification and any one renews them.
-- The channel's token is kept only as its SHA-256 (hex); `connection` is the expert's calendar
-- connection it was opened for (expert_calendar_versions.connection): after a reconnect or a
-- switch of calendar it is stopped and replaced.
CREATE TABLE push_channels (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    integration_type TEXT NOT NULL,
    connection BIGINT NOT NULL,
    token_hash TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_notification_at BIGINT
);
CREATE INDEX push_channels_expert ON push_channels (expert_id, integration_type);

-- Who is renewing an expert's channels (a lease, so that two processes never open two).
CREATE TABLE push_leases (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    integration_type TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    PRIMARY KEY (expert_id, integration_type)
);
