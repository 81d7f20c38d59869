-- Security hardening (#20).
--
-- API tokens get an id (listed and revoked by it; the secret's hash stays the primary key, so a
-- presented token is still found with one primary-key read) and an optional expiry. Revoking
-- deletes the row, so every server process refuses the token from its next request on. SQLite
-- cannot add a NOT NULL column without a default, so the table is rebuilt; existing tokens get a
-- random UUID and never expire (as before).
CREATE TABLE api_tokens_new (
    token_hash TEXT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'expert', 'client')),
    subject_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
INSERT INTO api_tokens_new (token_hash, id, role, subject_id, created_at)
SELECT token_hash,
    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
          || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'
          || hex(randomblob(6))),
    role, subject_id, created_at
FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
CREATE UNIQUE INDEX api_tokens_id ON api_tokens (id);
CREATE INDEX api_tokens_subject ON api_tokens (subject_id);

-- A session opened with a stored token names it: revoking the token ends its sessions too (a
-- session of ADMIN_TOKEN names none). Sessions opened before this version name none either.
ALTER TABLE sessions ADD COLUMN token_id TEXT;
CREATE INDEX sessions_token_id ON sessions (token_id);

-- OAuth states are bound to the browser that began the flow: the hash of a random value that
-- browser holds in a cookie. A start ticket (hashed, single use) lets a browser that did not call
-- connect take the binding over; the authorization URL it redirects to is kept encrypted (it
-- carries the state). States saved before this version have no binding and cannot be used.
ALTER TABLE oauth_states ADD COLUMN binding_hash TEXT;
ALTER TABLE oauth_states ADD COLUMN ticket_hash TEXT;
ALTER TABLE oauth_states ADD COLUMN ticket_used_at BIGINT;
ALTER TABLE oauth_states ADD COLUMN authorization_url TEXT;
CREATE UNIQUE INDEX oauth_states_ticket ON oauth_states (ticket_hash);

-- A client's email is unique, compared case-insensitively (ASCII letters, as lower() folds them
-- in both databases): email_key is the trimmed, lower-cased address. Existing duplicates must not
-- stop the upgrade, and nobody's data is merged or changed: the oldest client of each address
-- gets the key (it is the one lookups by email found before), later duplicates keep their rows,
-- appointments and tokens with a NULL key (NULLs do not collide in a unique index), reachable by
-- id but never found by email.
ALTER TABLE clients ADD COLUMN email_key TEXT;
UPDATE clients SET email_key = lower(trim(email))
WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY lower(trim(email)) ORDER BY created_at, id) AS n
        FROM clients
    ) WHERE n = 1
);
CREATE UNIQUE INDEX clients_email_key ON clients (email_key);
