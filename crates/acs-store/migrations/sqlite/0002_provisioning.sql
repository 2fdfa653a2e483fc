-- Provisioning, as GenieACS's collections name it: presets (which provisions run on which
-- devices, and when), provisions and virtual parameters (JavaScript source, by name).
--
-- presets.json: the preset's JSON form without its name (acs_core::preset::Preset::to_json),
-- checked before it is written and parsed again when read. script: the source text
-- exactly as put.
--
-- provisioning_revision: one row whose revision goes up by one in the transaction of every
-- write to the three tables. Nodes keep all of provisioning in memory and compare one
-- integer to know whether their copy is stale; the row lock makes concurrent writers
-- (several nodes on PostgreSQL) take turns, so no two writes share a revision.
CREATE TABLE presets (
    name TEXT PRIMARY KEY,
    json TEXT NOT NULL
);

CREATE TABLE provisions (
    name TEXT PRIMARY KEY,
    script TEXT NOT NULL
);

CREATE TABLE virtual_parameters (
    name TEXT PRIMARY KEY,
    script TEXT NOT NULL
);

CREATE TABLE provisioning_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO provisioning_revision (id, revision) VALUES (1, 0);
