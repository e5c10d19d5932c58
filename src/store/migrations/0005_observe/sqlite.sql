-- p2pd schema: what `p2pd explain`, `/metrics` and the dashboard read
-- (design note `observability`). A new version on top of 0004; never edit an applied one.
-- Its indexes, the same in both dialects, are in both.sql.

-- Why the scheduler answered what it did: a row each time a device's plan
-- for a content changes (role, leader, upstream tiers, office), and each
-- time an office gets a new leader (kind 'election' for the first,
-- 'failover' when one is replaced). Unchanged answers write nothing, so a
-- device that asks every few seconds costs no rows.
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,                 -- unix seconds
    content_id  TEXT NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    device_id   TEXT NOT NULL,                    -- the device the decision is about (the new leader for elections)
    office_id   INTEGER,                          -- its office at the time; NULL: no office
    kind        TEXT NOT NULL CHECK (kind IN ('sources', 'election', 'failover')),
    role        TEXT NOT NULL DEFAULT '',         -- leader / follower / solo ('' for elections)
    leader      TEXT,                             -- the office's leader at the time
    previous    TEXT,                             -- failover: the leader that was replaced
    tiers       TEXT NOT NULL DEFAULT '',         -- upstream tiers offered, in order, e.g. 'parent-partial,server,cdn'
    reason      TEXT NOT NULL                     -- the why, in words
);
-- The dashboard's and /metrics' admin token: only its SHA-256 is kept.
-- Created by `install`, rotated by `p2pd ui token`. Separate from the
-- shared key, which admits devices.
CREATE TABLE admin_token (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    token_sha256  TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
