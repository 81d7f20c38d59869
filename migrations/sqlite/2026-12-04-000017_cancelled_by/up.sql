-- Who cancelled an appointment (#15, api.md's `cancelled_by`): client, expert, admin, calendar
-- (deleted in the expert's calendar), provider (a scheduler reported it) or system (an unused
-- scheduling link expired). Appointments cancelled before this was recorded keep NULL.
ALTER TABLE appointments ADD COLUMN cancelled_by TEXT;
