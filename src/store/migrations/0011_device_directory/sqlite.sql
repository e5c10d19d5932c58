-- Design note `fleet-scale`: serve answers heartbeats from an in-memory directory of
-- device → (group, office), kept with the fleet snapshot. A device that
-- is removed, or moves to another group or office, bumps the fleet
-- generation so that every serve drops its directory within one poll.
-- Heartbeats (last_seen) and new enrollments do not: a new device is
-- read from the database on its first heartbeat.
CREATE TRIGGER fleet_devices_del AFTER DELETE ON devices BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_devices_moved AFTER UPDATE OF group_name, office_id ON devices
    WHEN OLD.group_name IS NOT NEW.group_name OR OLD.office_id IS NOT NEW.office_id
    BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;

-- And what is targeted at each group (contents published, retargeted or
-- deleted), which serve keeps with the same snapshot.
CREATE TRIGGER fleet_contents_ins AFTER INSERT ON contents BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_contents_upd AFTER UPDATE ON contents BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_contents_del AFTER DELETE ON contents BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_targets_ins AFTER INSERT ON content_targets BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_targets_upd AFTER UPDATE ON content_targets BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER fleet_targets_del AFTER DELETE ON content_targets BEGIN UPDATE fleet_generation SET n = n + 1 WHERE id = 1; END;
