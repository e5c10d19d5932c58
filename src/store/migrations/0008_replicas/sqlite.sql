-- Design note `replicas` (scale-out): serve replicas sharing one database record
-- themselves here with a heartbeat, so that `health` can check every
-- replica it sees. On SQLite there is only ever one (the data dir lock).
CREATE TABLE replicas (
    id          TEXT PRIMARY KEY,     -- UUID chosen by serve at start
    url         TEXT NOT NULL,        -- where it listens, as agents reach it
    host        TEXT NOT NULL,        -- the machine's host name
    version     TEXT NOT NULL,        -- p2pd version
    started_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL      -- unix seconds of its last heartbeat
);

-- The current shared key, sealed with the database key file each replica
-- holds (`db.key` in its data dir): on PostgreSQL every replica loads the
-- key from here, and a `key regenerate` reaches them all. Empty on SQLite,
-- where the key file in the data dir is the key.
CREATE TABLE shared_key (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL,        -- = server.key_version
    sealed   BLOB NOT NULL            -- nonce ‖ ciphertext ‖ tag (see store::replicas)
);
