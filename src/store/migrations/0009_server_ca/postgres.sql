-- PostgreSQL spelling of sqlite.sql.
CREATE TABLE server_ca (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    cert_pem    TEXT COLLATE "C" NOT NULL,
    key         BYTEA NOT NULL,
    sealed      BIGINT NOT NULL CHECK (sealed IN (0, 1)),
    created_at  BIGINT NOT NULL
);
