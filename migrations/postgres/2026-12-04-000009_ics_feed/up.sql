-- iCalendar (#17).
--
-- An appointment's SEQUENCE (RFC 5545 3.8.7.4): calendar clients replace an event they hold only
-- by a newer sequence, so it rises with every change a calendar shows (time or status:
-- reschedule, cancel, confirm, a provider's hold). A trigger keeps it, so no write path (and no
-- other process) can forget to; sync bookkeeping (sync_status, external ids) does not count.
ALTER TABLE appointments ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
CREATE FUNCTION appointments_next_sequence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.start_time IS DISTINCT FROM OLD.start_time
        OR NEW.end_time IS DISTINCT FROM OLD.end_time
        OR NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.sequence := OLD.sequence + 1;
    ELSE
        NEW.sequence := OLD.sequence;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER appointments_sequence
BEFORE UPDATE ON appointments
FOR EACH ROW EXECUTE FUNCTION appointments_next_sequence();

-- An expert's secret calendar feed: only the SHA-256 of its 256-bit secret is kept (the URL holds
-- the secret; a stolen database does not give working feed URLs). NULL: the feed is off.
ALTER TABLE expert_profiles ADD COLUMN ics_feed_secret_hash TEXT;
