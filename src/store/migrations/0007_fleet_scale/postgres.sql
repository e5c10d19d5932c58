-- PostgreSQL spelling of sqlite.sql: one trigger function, one
-- statement-level trigger per table (a topology import of 5,000 offices
-- bumps the generation once per statement, not per row). Any replica or
-- admin command on any host bumps it; every replica polls it.
CREATE TABLE fleet_generation (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    n   BIGINT NOT NULL
);
INSERT INTO fleet_generation (id, n) VALUES (1, 0);

CREATE FUNCTION p2pd_bump_fleet_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE fleet_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER fleet_settings AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION p2pd_bump_fleet_generation();
CREATE TRIGGER fleet_offices AFTER INSERT OR UPDATE OR DELETE ON offices
    FOR EACH STATEMENT EXECUTE FUNCTION p2pd_bump_fleet_generation();
CREATE TRIGGER fleet_ranges AFTER INSERT OR UPDATE OR DELETE ON office_ranges
    FOR EACH STATEMENT EXECUTE FUNCTION p2pd_bump_fleet_generation();
CREATE TRIGGER fleet_groups AFTER INSERT OR UPDATE OR DELETE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION p2pd_bump_fleet_generation();

CREATE INDEX IF NOT EXISTS devices_group ON devices(group_name);
CREATE INDEX IF NOT EXISTS office_ranges_office ON office_ranges(office_id);
