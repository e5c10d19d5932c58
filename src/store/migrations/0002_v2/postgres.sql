-- Migration 2 (design note `real-site`), PostgreSQL spelling of sqlite.sql.
ALTER TABLE progress ADD COLUMN started_ms BIGINT;
ALTER TABLE progress ADD COLUMN done_ms BIGINT;
ALTER TABLE contents ADD COLUMN arch TEXT COLLATE "C" NOT NULL DEFAULT '';
