-- PostgreSQL spelling of sqlite.sql.
ALTER TABLE devices ADD COLUMN secret_sha256 TEXT COLLATE "C";

CREATE TABLE retired_devices (
    id             TEXT COLLATE "C" PRIMARY KEY,
    hostname       TEXT COLLATE "C" NOT NULL,
    retired_at     BIGINT NOT NULL,
    secret_sha256  TEXT COLLATE "C",
    readmitted_at  BIGINT
);
