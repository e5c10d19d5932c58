-- Device states an admin can see and set (design note `real-site`): contents a device is
-- stuck on, requests refused for a stale key, and the admin's say in the
-- leader election.

-- Contents a device reports it cannot make progress on; each heartbeat
-- replaces the device's rows.
CREATE TABLE stuck (
    device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    content_id  TEXT NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    reason      TEXT NOT NULL,
    since       INTEGER NOT NULL,
    PRIMARY KEY (device_id, content_id)
);

-- Requests refused with key_mismatch, by the device they named and the
-- fingerprint they were signed with. The device id is the request's
-- claim (the signature did not verify), so only enrolled ids are kept.
CREATE TABLE key_refusals (
    device_id    TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    fingerprint  TEXT NOT NULL,
    first_at     INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (device_id, fingerprint)
);

-- The admin's say in the election: 'preferred' ranks first among online
-- devices, 'excluded' never leads.
ALTER TABLE devices ADD COLUMN preference TEXT NOT NULL DEFAULT 'normal'
    CHECK (preference IN ('normal', 'preferred', 'excluded'));
