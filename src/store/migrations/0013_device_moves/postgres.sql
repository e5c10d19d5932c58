-- PostgreSQL spelling of sqlite.sql.
CREATE TABLE device_moves (
    device_id    TEXT COLLATE "C" NOT NULL,
    at           BIGINT NOT NULL,
    from_office  BIGINT,
    to_office    BIGINT,
    from_addr    TEXT COLLATE "C" NOT NULL,
    to_addr      TEXT COLLATE "C" NOT NULL,
    pieces_held  BIGINT NOT NULL
);
CREATE INDEX device_moves_by_device ON device_moves (device_id, at);

ALTER TABLE devices ADD COLUMN unreachable_at BIGINT;
ALTER TABLE devices ADD COLUMN unreachable_why TEXT COLLATE "C";
