-- PostgreSQL spelling of sqlite.sql (the REAL clamp has no
-- PostgreSQL counterpart: BIGINT columns cannot hold a REAL).
CREATE TABLE bad_reports (
    content_id   TEXT COLLATE "C" NOT NULL,
    device_id    TEXT COLLATE "C" NOT NULL,
    reported_by  TEXT COLLATE "C" NOT NULL,
    piece        BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (content_id, device_id, reported_by)
);

CREATE TABLE upload_credit (
    device_id        TEXT COLLATE "C" NOT NULL,
    content_id       TEXT COLLATE "C" NOT NULL,
    claimed_pieces   BIGINT NOT NULL DEFAULT 0,
    claimed_bytes    BIGINT NOT NULL DEFAULT 0,
    received_pieces  BIGINT NOT NULL DEFAULT 0,
    received_bytes   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, content_id)
);
