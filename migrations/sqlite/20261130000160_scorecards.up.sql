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
--bun:split
-- Scores as issued: what each unit scored on a scorecard for a period, kept
-- as they were when a later correction of actuals restates them.
CREATE TABLE score_issues (
    id                 integer PRIMARY KEY AUTOINCREMENT,
    round_id           bigint      NOT NULL REFERENCES rounds (id),
    level              varchar(32) NOT NULL,
    version_id         bigint      NOT NULL,
    period             integer     NOT NULL,
    basis              varchar(16) NOT NULL,
    scorecard_revision bigint      NOT NULL,
    scorecard          text        NOT NULL,
    items              text        NOT NULL,
    issued_by          bigint,
    issued_at          timestamp NOT NULL
);
--bun:split
CREATE INDEX score_issues_round ON score_issues (round_id, level);
