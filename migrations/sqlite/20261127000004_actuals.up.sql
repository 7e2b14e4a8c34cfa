-- Amounts are text at the measure's scale, as in target_cells, so sums
-- run exactly over minor units (see minorUnits in planning/sqlstore).
-- Actuals are facts per calendar month, not per round: what an org unit sold
-- of a product line in a month, by measure. They are kept at the leaves of
-- the org tree only; every rollup is an exact sum computed on read.
-- Like target_cells they carry no foreign keys: the store checks every key it
-- writes, and master data that holds actuals is never deleted.
CREATE TABLE actuals (
    org_unit_id     bigint     NOT NULL,
    product_line_id bigint     NOT NULL,
    measure_id      bigint     NOT NULL,
    month           varchar(7) NOT NULL CHECK (length(month) = 7 AND substr(month, 5, 1) = '-'),
    amount          text       NOT NULL,
    import_id       bigint     NOT NULL,
    PRIMARY KEY (org_unit_id, product_line_id, measure_id, month)
) WITHOUT ROWID;
--bun:split
CREATE INDEX actuals_month ON actuals (month);
--bun:split
-- One row per import that wrote actuals: the file, who, when and what it did.
CREATE TABLE actual_imports (
    id        integer PRIMARY KEY AUTOINCREMENT,
    at        timestamp    NOT NULL,
    actor_id  bigint,
    file_name varchar(255) NOT NULL DEFAULT '',
    format    varchar(8)   NOT NULL,
    checksum  varchar(64)  NOT NULL,
    rows_read integer      NOT NULL,
    added     integer      NOT NULL,
    changed   integer      NOT NULL,
    unchanged integer      NOT NULL,
    removed   integer      NOT NULL
);
