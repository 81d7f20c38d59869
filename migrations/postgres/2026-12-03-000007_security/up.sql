-- Security hardening (#20); see the SQLite migration of the same name for the design.
--
-- API tokens: an id (listed and revoked by it; the hash stays the primary key) and an optional
-- expiry. Existing tokens get a random UUID and never expire (as before).
ALTER TABLE api_tokens ADD COLUMN id TEXT;
UPDATE api_tokens SET id = gen_random_uuid()::text;
ALTER TABLE api_tokens ALTER COLUMN id SET NOT NULL;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
CREATE UNIQUE INDEX api_tokens_id ON api_tokens (id);
CREATE INDEX api_tokens_subject ON api_tokens (subject_id);

-- Sessions name the stored token that opened them, so revoking it ends them.
ALTER TABLE sessions ADD COLUMN token_id TEXT;
CREATE INDEX sessions_token_id ON sessions (token_id);

-- OAuth states bound to the browser that began the flow; start tickets.
ALTER TABLE oauth_states ADD COLUMN binding_hash TEXT;
ALTER TABLE oauth_states ADD COLUMN ticket_hash TEXT;
ALTER TABLE oauth_states ADD COLUMN ticket_used_at BIGINT;
ALTER TABLE oauth_states ADD COLUMN authorization_url TEXT;
CREATE UNIQUE INDEX oauth_states_ticket ON oauth_states (ticket_hash);

-- Unique client emails, case-insensitive over ASCII letters (COLLATE "C": lower() folds only
-- A-Z, as SQLite's does and as the server's key does). The oldest client of each address gets the
-- key; later duplicates keep everything with a NULL key.
ALTER TABLE clients ADD COLUMN email_key TEXT;
UPDATE clients c SET email_key = k.email_key
FROM (
    SELECT id, lower(trim(email) COLLATE "C") AS email_key,
        row_number() OVER (PARTITION BY lower(trim(email) COLLATE "C") ORDER BY created_at, id) AS n
    FROM clients
) k
WHERE c.id = k.id AND k.n = 1;
CREATE UNIQUE INDEX clients_email_key ON clients (email_key);
