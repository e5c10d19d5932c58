-- PostgreSQL spelling of sqlite.sql.
CREATE TABLE report_seqs (
    device_id  TEXT COLLATE "C" PRIMARY KEY,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL
);
