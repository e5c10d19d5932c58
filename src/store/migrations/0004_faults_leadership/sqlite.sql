-- Design note `faults-and-churn` (faults and churn): leadership epochs, byte-flow progress,
-- per-device clock offset.

-- Every change of leader bumps the epoch of its (content, office), so a
-- returning old leader can tell that it was replaced.
ALTER TABLE leaders ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1;

-- Bytes received so far (all tiers, counted as they stream in), and the
-- last time that number or the piece count grew: a stall is judged by
-- bytes flowing, not only by pieces completed.
ALTER TABLE progress ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE progress ADD COLUMN moved_at INTEGER;
-- Set while the device reports that every upstream source it may use is
-- failing (storage gone, parent unreachable): it is walking the tiers, and
-- replacing it would not help.
ALTER TABLE progress ADD COLUMN blocked_at INTEGER;

-- Seconds the device's clock is behind (+) or ahead (-) of the server's,
-- as the agent measured at its last heartbeat.
ALTER TABLE devices ADD COLUMN clock_offset INTEGER;
