-- The organisation's default scorecards, one per org level, by measure and
-- product line codes: every new round receives them (the KPIs whose
-- measures it plans, reweighted to 100). The KPIs are one JSON document,
-- validated by the domain before every write.
CREATE TABLE scorecard_templates (
    level      varchar(32)  PRIMARY KEY,
    name       varchar(200) NOT NULL,
    kpis       text         NOT NULL,
    rounding   text         NOT NULL,
    updated_at timestamp    NOT NULL
);
