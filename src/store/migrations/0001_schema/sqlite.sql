-- p2pd schema, version 1. Applied by store::migrate; PRAGMA user_version
-- records the version so that a newer database is refused, never downgraded.

-- One row: who this server is and which key version is current.
CREATE TABLE server (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    server_id        TEXT NOT NULL,      -- UUID v4, quoted to support staff
    created_at       INTEGER NOT NULL,   -- unix seconds
    key_version      INTEGER NOT NULL,   -- 1 at install, +1 per regenerate
    key_fingerprint  TEXT NOT NULL       -- fingerprint of the current key
);

-- Keys that were regenerated away; only their fingerprints are kept, so a
-- request signed with one can be told "key mismatch" rather than "bad signature".
CREATE TABLE retired_keys (
    version      INTEGER PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    retired_at   INTEGER NOT NULL
);

-- Server settings from the Peer Distribution page, validated by settings.rs.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Offices: imported from a spreadsheet (source='import') or created per client
-- subnet when distribution optimization is off (source='auto').
CREATE TABLE offices (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    parent_id    INTEGER REFERENCES offices(id),
    type         TEXT NOT NULL CHECK (type IN ('default', 'wifi', 'vpn')),
    wan_kbps     INTEGER,
    description  TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL CHECK (source IN ('import', 'auto')),
    position     INTEGER NOT NULL DEFAULT 0   -- row order, so export keeps the admin's order
);

-- The ranges of an office as written by the admin ("10.1.0.0/24" or "a-b").
CREATE TABLE office_ranges (
    office_id  INTEGER NOT NULL REFERENCES offices(id) ON DELETE CASCADE,
    spec       TEXT NOT NULL,
    position   INTEGER NOT NULL
);

-- Groups assigned to peer distribution.
CREATE TABLE groups (
    name         TEXT PRIMARY KEY,
    assigned_at  INTEGER NOT NULL
);

-- Enrolled devices (agents).
CREATE TABLE devices (
    id                  TEXT PRIMARY KEY,    -- UUID chosen by the server at first enrollment
    hostname            TEXT NOT NULL,
    addr                TEXT NOT NULL,       -- the address the device reported (and was seen from)
    prefix_len          INTEGER NOT NULL,    -- its subnet prefix, for auto offices
    group_name          TEXT NOT NULL,
    version             TEXT NOT NULL,       -- client version
    peer_url            TEXT,                -- where it serves pieces; NULL for VPN / no peering
    office_id           INTEGER REFERENCES offices(id) ON DELETE SET NULL,
    first_seen          INTEGER NOT NULL,
    last_seen           INTEGER NOT NULL,
    heartbeats          INTEGER NOT NULL DEFAULT 0,  -- heartbeats seen since first_seen
    uploads_ok          INTEGER NOT NULL DEFAULT 0,  -- pieces served to peers that verified
    upload_bytes        INTEGER NOT NULL DEFAULT 0,
    failures            INTEGER NOT NULL DEFAULT 0,  -- bad pieces sent, stalls as leader
    license_activated_at INTEGER                      -- NULL: holds no license
);

-- Published content. Identity is the whole-file SHA-256.
CREATE TABLE contents (
    id            TEXT PRIMARY KEY,         -- hex SHA-256 of the whole file
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    path          TEXT NOT NULL,            -- relative to file storage
    size          INTEGER NOT NULL,
    mtime         INTEGER NOT NULL,         -- storage mtime at publish, for idempotent re-runs
    piece_size    INTEGER NOT NULL,
    piece_hashes  BLOB NOT NULL,            -- 32 bytes per piece, in order
    published_at  INTEGER NOT NULL
);
CREATE INDEX contents_path ON contents(path);

CREATE TABLE content_targets (
    content_id  TEXT NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    group_name  TEXT NOT NULL,
    PRIMARY KEY (content_id, group_name)
);

-- Per device and content: how far it got, reported in heartbeats.
CREATE TABLE progress (
    content_id     TEXT NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    device_id      TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    pieces         INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    progressed_at  INTEGER NOT NULL,   -- last time `pieces` grew, for stall detection
    done_at        INTEGER,
    PRIMARY KEY (content_id, device_id)
);

-- The leader (preferred device) of each office for each content.
CREATE TABLE leaders (
    content_id  TEXT NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    office_id   INTEGER NOT NULL,          -- offices.id, or -1 for devices with no office
    device_id   TEXT NOT NULL,
    since       INTEGER NOT NULL,
    PRIMARY KEY (content_id, office_id)
);

-- Devices banned from serving a content after sending a bad piece.
CREATE TABLE bans (
    content_id   TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    reported_by  TEXT NOT NULL,
    piece        INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (content_id, device_id)
);

-- Every transfer an agent reports: who got how many bytes from which tier.
CREATE TABLE transfers (
    id              INTEGER PRIMARY KEY,
    content_id      TEXT NOT NULL,
    device_id       TEXT NOT NULL,        -- the receiver
    office_id       INTEGER,              -- the receiver's office at the time
    tier            TEXT NOT NULL CHECK (tier IN ('lan', 'parent', 'server', 'cdn')),
    source_device   TEXT,                 -- the sending device, for lan/parent
    bytes           INTEGER NOT NULL,
    pieces          INTEGER NOT NULL,
    ok              INTEGER NOT NULL,     -- 1 verified, 0 failed
    at              INTEGER NOT NULL
);
CREATE INDEX transfers_content ON transfers(content_id, office_id);

-- Content published without `--groups` targets every assigned group,
-- including groups assigned later (1); `publish --groups` pins its targets (0).
ALTER TABLE contents ADD COLUMN all_groups INTEGER NOT NULL DEFAULT 1;
