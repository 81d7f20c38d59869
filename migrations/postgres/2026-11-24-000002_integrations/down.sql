ALTER TABLE appointments DROP COLUMN sync_error;
DROP TABLE sync_jobs;
DROP TABLE oauth_states;
DROP TABLE expert_integrations;
