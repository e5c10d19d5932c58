-- Design note `devices-move`: a device's office follows its address.
-- Each move (its office changed) is kept for `explain`, the last few per
-- device: from where to where, when, and how many pieces it already held.
CREATE TABLE device_moves (
    device_id    TEXT NOT NULL,
    at           INTEGER NOT NULL,
    from_office  INTEGER,
    to_office    INTEGER,
    from_addr    TEXT NOT NULL,
    to_addr      TEXT NOT NULL,
    pieces_held  INTEGER NOT NULL
);
CREATE INDEX device_moves_by_device ON device_moves (device_id, at);

-- A device its peers cannot reach (a host firewall, NAT, client isolation)
-- still downloads but is never leader and never offered as a source:
-- since when, and how the server learnt it ('peers' or 'probe').
ALTER TABLE devices ADD COLUMN unreachable_at INTEGER;
ALTER TABLE devices ADD COLUMN unreachable_why TEXT;
