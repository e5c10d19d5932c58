-- Design note `faults-and-churn`: a report counts once.
-- Per device, the highest report sequence number applied (the agent's
-- report journal numbers its reports, monotonic across restarts): a
-- report at or below it is a retry after a lost answer, acknowledged and
-- not counted again. Kept when the device is retired, like its transfers:
-- a re-admitted id that retries an old report still counts it once.
CREATE TABLE report_seqs (
    device_id  TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL
);
