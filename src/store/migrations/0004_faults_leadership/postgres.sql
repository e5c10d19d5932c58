-- PostgreSQL spelling of sqlite.sql.
ALTER TABLE leaders ADD COLUMN epoch BIGINT NOT NULL DEFAULT 1;
ALTER TABLE progress ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE progress ADD COLUMN moved_at BIGINT;
ALTER TABLE progress ADD COLUMN blocked_at BIGINT;
ALTER TABLE devices ADD COLUMN clock_offset BIGINT;
