-- inform_values holds one 8-byte digest per parameter of the last Inform, in its order
-- (src/shared/inform.rs), no longer one over them all: an Inform in which a few values
-- changed writes those rows alone. The old digests are dropped; each device's next
-- Inform writes all its rows once and stores the new ones.
ALTER TABLE devices DROP COLUMN inform_values;
ALTER TABLE devices ADD COLUMN inform_values BLOB;
