-- Devices cannot vouch for themselves (design note `transport-trust`).

-- Bad-piece reports, one row per (content, accused, reporter). A ban in
-- `bans` needs reports from at least two distinct devices; a single
-- report is evidence waiting for a second witness.
CREATE TABLE bad_reports (
    content_id   TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    reported_by  TEXT NOT NULL,
    piece        INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (content_id, device_id, reported_by)
);

-- Upload credit per (sender, content): what the sender claims it served
-- and what receivers report they verified from it. A sender is credited
-- with the smaller of the two, never with its own claim alone.
CREATE TABLE upload_credit (
    device_id        TEXT NOT NULL,
    content_id       TEXT NOT NULL,
    claimed_pieces   INTEGER NOT NULL DEFAULT 0,
    claimed_bytes    INTEGER NOT NULL DEFAULT 0,
    received_pieces  INTEGER NOT NULL DEFAULT 0,
    received_bytes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, content_id)
);

-- Counters that an older p2pd let overflow into REAL: clamp them back to
-- the largest integer so every read of the row works again.
UPDATE devices SET upload_bytes = 9223372036854775807 WHERE typeof(upload_bytes) = 'real';
UPDATE devices SET uploads_ok = 9223372036854775807 WHERE typeof(uploads_ok) = 'real';
