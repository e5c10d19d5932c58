-- PostgreSQL spelling of sqlite.sql.
CREATE TABLE replicas (
    id          TEXT COLLATE "C" PRIMARY KEY,
    url         TEXT COLLATE "C" NOT NULL,
    host        TEXT COLLATE "C" NOT NULL,
    version     TEXT COLLATE "C" NOT NULL,
    started_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL
);

CREATE TABLE shared_key (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL,
    sealed   BYTEA NOT NULL
);
