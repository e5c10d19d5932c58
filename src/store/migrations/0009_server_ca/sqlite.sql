-- Design note `replicas`: the server CA lives in the database, so that every serve
-- replica presents the same CA and a replica needs only the database URL
-- and db.key. `key` is the CA's private key: PEM on SQLite (the database
-- file sits in the owner-only data dir, like the key file), sealed with
-- db.key on PostgreSQL (`sealed` = 1; see src/dbkey.rs). The first
-- command that opens the CA moves an older install's ca.pem and ca.key
-- into this table (src/server_ca.rs).
CREATE TABLE server_ca (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    cert_pem    TEXT NOT NULL,
    key         BLOB NOT NULL,
    sealed      INTEGER NOT NULL CHECK (sealed IN (0, 1)),
    created_at  INTEGER NOT NULL
);
