-- iCalendar (#17).
--
-- An appointment's SEQUENCE (RFC 5545 3.8.7.4): calendar clients replace an event they hold only
-- by a newer sequence, so it rises with every change a calendar shows (time or status:
-- reschedule, cancel, confirm, a provider's hold). A trigger keeps it, so no write path (and no
-- other process) can forget to; sync bookkeeping (sync_status, external ids) does not count.
ALTER TABLE appointments ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER appointments_sequence
AFTER UPDATE OF start_time, end_time, status ON appointments
WHEN OLD.start_time IS NOT NEW.start_time OR OLD.end_time IS NOT NEW.end_time OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE appointments SET sequence = OLD.sequence + 1 WHERE id = NEW.id;
END;

-- An expert's secret calendar feed: only the SHA-256 of its 256-bit secret is kept (the URL holds
-- the secret; a stolen database does not give working feed URLs). NULL: the feed is off.
ALTER TABLE expert_profiles ADD COLUMN ics_feed_secret_hash TEXT;
