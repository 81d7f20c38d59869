DROP INDEX clients_email_key;
ALTER TABLE clients DROP COLUMN email_key;
DROP INDEX oauth_states_ticket;
ALTER TABLE oauth_states DROP COLUMN authorization_url, DROP COLUMN ticket_used_at, DROP COLUMN ticket_hash,
    DROP COLUMN binding_hash;
DROP INDEX sessions_token_id;
ALTER TABLE sessions DROP COLUMN token_id;
DROP INDEX api_tokens_subject;
DROP INDEX api_tokens_id;
ALTER TABLE api_tokens DROP COLUMN expires_at, DROP COLUMN id;
