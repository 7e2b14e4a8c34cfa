-- A round's scorecards: how the org units of one level are assessed. The
-- KPIs (measure, key product lines, weight, direction, curve) are kept as one
-- JSON document, validated by the domain before every write.
CREATE TABLE scorecards (
    id         integer PRIMARY KEY AUTOINCREMENT,
    round_id   bigint       NOT NULL REFERENCES rounds (id),
    level      varchar(32)  NOT NULL,
    name       varchar(200) NOT NULL,
    kpis       text         NOT NULL,
    rounding   text         NOT NULL,
    revision   bigint       NOT NULL DEFAULT 1,
    created_at timestamp  NOT NULL,
    updated_at timestamp  NOT NULL,
    UNIQUE (round_id, level)
);
