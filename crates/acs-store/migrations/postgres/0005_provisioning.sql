-- Provisioning: presets, provisions and virtual parameters, and the revision that every
-- write to them raises (migrations/sqlite/0002_provisioning.sql explains them). Names are
-- "C"-collated so that lists come in the order SQLite gives.
CREATE TABLE presets (
    name TEXT COLLATE "C" PRIMARY KEY,
    json TEXT NOT NULL
);

CREATE TABLE provisions (
    name TEXT COLLATE "C" PRIMARY KEY,
    script TEXT NOT NULL
);

CREATE TABLE virtual_parameters (
    name TEXT COLLATE "C" PRIMARY KEY,
    script TEXT NOT NULL
);

CREATE TABLE provisioning_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO provisioning_revision (id, revision) VALUES (1, 0);
