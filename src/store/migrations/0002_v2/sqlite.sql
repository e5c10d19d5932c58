-- Migration 2 (design note `real-site`).
--
-- Report times in 0.1 s. `started_ms` is when the
-- device first asked for the content (its manifest request), `done_ms`
-- when it delivered the verified file (its own claim, bounded by the
-- server to [started_ms, time of receipt]). Milliseconds since the epoch;
-- NULL on rows from before this migration (the report then falls back to
-- the whole seconds of started_at / done_at).
ALTER TABLE progress ADD COLUMN started_ms INTEGER;
ALTER TABLE progress ADD COLUMN done_ms INTEGER;

-- A package's architecture from its file name (x64, amd64, ...) or the
-- storage's .p2pd-names.csv; empty when neither says.
ALTER TABLE contents ADD COLUMN arch TEXT NOT NULL DEFAULT '';
