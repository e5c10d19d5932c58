-- PostgreSQL spelling of sqlite.sql.
CREATE TABLE stuck (
    device_id   TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    content_id  TEXT COLLATE "C" NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    reason      TEXT COLLATE "C" NOT NULL,
    since       BIGINT NOT NULL,
    PRIMARY KEY (device_id, content_id)
);

CREATE TABLE key_refusals (
    device_id    TEXT COLLATE "C" NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    fingerprint  TEXT COLLATE "C" NOT NULL,
    first_at     BIGINT NOT NULL,
    last_at      BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (device_id, fingerprint)
);

ALTER TABLE devices ADD COLUMN preference TEXT COLLATE "C" NOT NULL DEFAULT 'normal'
    CHECK (preference IN ('normal', 'preferred', 'excluded'));
