-- The indexes of sqlite.sql / postgres.sql (design note `observability`), spelled the same in both
-- dialects: store/mod.rs runs this after sqlite.sql on SQLite and after
-- postgres.sql on PostgreSQL, as one migration step.
CREATE INDEX decisions_device ON decisions(device_id, content_id, id);
CREATE INDEX decisions_office ON decisions(content_id, office_id, id);
CREATE INDEX decisions_kind ON decisions(kind);

-- The dashboard's per-office views and the scheduler look devices up by
-- office, and the office tree by parent.
CREATE INDEX IF NOT EXISTS devices_office ON devices(office_id);
CREATE INDEX IF NOT EXISTS offices_parent ON offices(parent_id);
