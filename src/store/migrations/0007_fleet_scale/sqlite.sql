-- Design note `fleet-scale` (fleet scale): a generation counter that every write to what the
-- server keeps in memory (settings, offices, ranges, groups) bumps, by
-- trigger, so that any writer — serve itself, the admin CLI, an older
-- binary — is seen; serve polls this one row instead of reloading.
CREATE TABLE fleet_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO fleet_generation (id, n) VALUES (1, 0);

CREATE TRIGGER fleet_settings_ins AFTER INSERT ON settings BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_settings_upd AFTER UPDATE ON settings BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_settings_del AFTER DELETE ON settings BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_offices_ins AFTER INSERT ON offices BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_offices_upd AFTER UPDATE ON offices BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_offices_del AFTER DELETE ON offices BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_ranges_ins AFTER INSERT ON office_ranges BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_ranges_upd AFTER UPDATE ON office_ranges BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_ranges_del AFTER DELETE ON office_ranges BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_groups_ins AFTER INSERT ON groups BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_groups_upd AFTER UPDATE ON groups BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_groups_del AFTER DELETE ON groups BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;

-- Queries that remain on the request path: devices by group (targeting,
-- `groups` counts), ranges by office (import, export, show).
CREATE INDEX IF NOT EXISTS devices_group ON devices(group_name);
CREATE INDEX IF NOT EXISTS office_ranges_office ON office_ranges(office_id);
