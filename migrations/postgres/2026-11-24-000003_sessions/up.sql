-- Browser sessions of the pages (POST /session). The cookie holds a random id; only its hash is
-- stored, like API tokens. The CSRF token is returned by GET /session and must accompany every
-- cookie-authenticated write.
CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'expert', 'client')),
    subject_id TEXT,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
