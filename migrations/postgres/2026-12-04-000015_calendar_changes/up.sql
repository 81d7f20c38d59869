-- Two-way sync (#15): where each expert's calendar change feed left off (Google's nextSyncToken,
-- a CalDAV sync-token), with the connection it was read for (expert_calendar_versions.connection):
-- after a reconnect or a switch of calendar the old cursor is never used again.
CREATE TABLE calendar_change_cursors (
    expert_id TEXT NOT NULL REFERENCES expert_profiles (id) ON DELETE CASCADE,
    integration_type TEXT NOT NULL,
    connection BIGINT NOT NULL,
    cursor TEXT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (expert_id, integration_type)
);
