DROP INDEX clients_email_key;
ALTER TABLE clients DROP COLUMN email_key;
DROP INDEX oauth_states_ticket;
ALTER TABLE oauth_states DROP COLUMN authorization_url;
ALTER TABLE oauth_states DROP COLUMN ticket_used_at;
ALTER TABLE oauth_states DROP COLUMN ticket_hash;
ALTER TABLE oauth_states DROP COLUMN binding_hash;
DROP INDEX sessions_token_id;
ALTER TABLE sessions DROP COLUMN token_id;
CREATE TABLE api_tokens_old (
    token_hash TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'expert', 'client')),
    subject_id TEXT,
    created_at BIGINT NOT NULL
);
INSERT INTO api_tokens_old SELECT token_hash, role, subject_id, created_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_old RENAME TO api_tokens;
