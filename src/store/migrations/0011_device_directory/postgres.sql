-- PostgreSQL spelling of sqlite.sql: row-level, so that only
-- a device that really moved (or is removed) bumps the generation.
CREATE TRIGGER fleet_devices_del AFTER DELETE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION p2pd_bump_fleet_generation();
CREATE TRIGGER fleet_devices_moved AFTER UPDATE OF group_name, office_id ON devices
    FOR EACH ROW
    WHEN (OLD.group_name IS DISTINCT FROM NEW.group_name OR OLD.office_id IS DISTINCT FROM NEW.office_id)
    EXECUTE FUNCTION p2pd_bump_fleet_generation();

-- And what is targeted at each group.
CREATE TRIGGER fleet_contents AFTER INSERT OR UPDATE OR DELETE ON contents
    FOR EACH STATEMENT EXECUTE FUNCTION p2pd_bump_fleet_generation();
CREATE TRIGGER fleet_targets AFTER INSERT OR UPDATE OR DELETE ON content_targets
    FOR EACH STATEMENT EXECUTE FUNCTION p2pd_bump_fleet_generation();
