-- inform_values holds one 8-byte digest per parameter of the last Inform, in its order
-- (src/shared/inform.rs), no longer one over them all: an Inform in which a few values
-- changed writes those rows alone. The old digests are dropped; each device's next
-- Inform writes all its rows once and stores the new ones. Dropping a column and adding
-- a nullable one without a default rewrite no table.
ALTER TABLE devices DROP COLUMN inform_values;
ALTER TABLE devices ADD COLUMN inform_values BYTEA;
