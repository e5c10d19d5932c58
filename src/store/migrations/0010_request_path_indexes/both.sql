-- Design note `fleet-scale`: what a heartbeat answer reads (the contents targeted at the
-- device's group) comes from these two indexes alone, never from the
-- contents rows: a row's piece hashes (32 KiB for 1 GiB) spill into
-- overflow pages, and published_at sits behind them, so the join read
-- every overflow page of every targeted content on every heartbeat.
-- Spelled the same in both dialects.
CREATE INDEX IF NOT EXISTS content_targets_group ON content_targets(group_name, content_id);
CREATE INDEX IF NOT EXISTS contents_listing ON contents(id, published_at, name, version, size);
