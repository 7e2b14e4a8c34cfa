CREATE TABLE counterproposals (
    id           integer PRIMARY KEY AUTOINCREMENT,
    version_id   bigint       NOT NULL REFERENCES versions (id),
    org_unit_id  bigint       NOT NULL REFERENCES org_units (id),
    title        varchar(200) NOT NULL DEFAULT '',
    status       varchar(16)  NOT NULL,
    author_id    bigint       NOT NULL REFERENCES users (id),
    revision     bigint       NOT NULL DEFAULT 1,
    created_at   timestamp  NOT NULL,
    updated_at   timestamp  NOT NULL,
    submitted_at timestamp,
    closed_at    timestamp
);
--bun:split
CREATE INDEX counterproposals_version ON counterproposals (version_id, status);
--bun:split
CREATE TABLE counterproposal_lines (
    id                 integer PRIMARY KEY AUTOINCREMENT,
    counterproposal_id bigint       NOT NULL REFERENCES counterproposals (id),
    position           integer      NOT NULL,
    product_line_id    bigint       NOT NULL REFERENCES product_lines (id),
    measure_id         bigint       NOT NULL REFERENCES measures (id),
    period             smallint     NOT NULL,
    proposed           text         NOT NULL,
    reason             text         NOT NULL DEFAULT '',
    decision           varchar(16),
    decided_amount     text,
    decision_comment   text         NOT NULL DEFAULT '',
    apply_mode         varchar(16),
    decided_by         bigint,
    decided_at         timestamp
);
--bun:split
CREATE INDEX counterproposal_lines_cp ON counterproposal_lines (counterproposal_id);
--bun:split
CREATE INDEX counterproposal_lines_pl ON counterproposal_lines (product_line_id, decision);
--bun:split
CREATE TABLE counterproposal_comments (
    id                 integer PRIMARY KEY AUTOINCREMENT,
    counterproposal_id bigint      NOT NULL REFERENCES counterproposals (id),
    author_id          bigint      NOT NULL REFERENCES users (id),
    body               text        NOT NULL,
    created_at         timestamp NOT NULL
);
--bun:split
CREATE INDEX counterproposal_comments_cp ON counterproposal_comments (counterproposal_id);
--bun:split
CREATE TABLE approval_actions (
    id         integer PRIMARY KEY AUTOINCREMENT,
    version_id bigint      NOT NULL REFERENCES versions (id),
    step       integer     NOT NULL,
    action     varchar(16) NOT NULL,
    actor_id   bigint      NOT NULL REFERENCES users (id),
    comment    text        NOT NULL DEFAULT '',
    at         timestamp NOT NULL
);
--bun:split
CREATE INDEX approval_actions_version ON approval_actions (version_id);
--bun:split
ALTER TABLE versions ADD COLUMN approval_state varchar(16) NOT NULL DEFAULT 'none';
--bun:split
ALTER TABLE versions ADD COLUMN approval_step integer NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE audit_events ADD COLUMN round_id bigint;
--bun:split
ALTER TABLE audit_events ADD COLUMN version_id bigint;
--bun:split
ALTER TABLE audit_events ADD COLUMN org_path varchar(1000);
--bun:split
CREATE INDEX audit_events_version ON audit_events (version_id);
--bun:split
CREATE INDEX audit_events_round ON audit_events (round_id);
--bun:split
CREATE INDEX audit_events_at ON audit_events (at);
--bun:split
CREATE TABLE cell_history (
    id              integer PRIMARY KEY AUTOINCREMENT,
    version_id      bigint   NOT NULL,
    org_unit_id     bigint   NOT NULL,
    product_line_id bigint   NOT NULL,
    measure_id      bigint   NOT NULL,
    period          smallint NOT NULL,
    before          text,
    after           text     NOT NULL,
    audit_event_id  bigint   NOT NULL REFERENCES audit_events (id)
);
--bun:split
CREATE INDEX cell_history_cell ON cell_history (version_id, org_unit_id, product_line_id, measure_id, period);
