-- Design note `key-holders`: trust against key holders.
-- A device proves it is the device it re-enrolls as: the SHA-256 of the
-- secret it was given at its first enrollment (hex). NULL for devices
-- enrolled before: they prove themselves by their certificate until
-- their next enrollment gives them a secret.
ALTER TABLE devices ADD COLUMN secret_sha256 TEXT;

-- Retired device ids stay refused, with a valid certificate and the key,
-- until the admin re-admits them (`p2pd devices readmit ID`). A readmitted
-- id keeps its secret here until the device enrolls with it again.
CREATE TABLE retired_devices (
    id             TEXT PRIMARY KEY,
    hostname       TEXT NOT NULL,
    retired_at     INTEGER NOT NULL,
    secret_sha256  TEXT,
    readmitted_at  INTEGER
);
