-- Digests of each device's last Inform's parameters (src/shared/inform.rs): an Inform
-- that repeats the last one leaves the parameter rows alone. inform_values: over paths
-- and values, NULL once anything else wrote the device's parameters. inform_paths: over
-- the paths. Parameter rows the last Inform carried have ts = -1, read as last_inform.
-- Nullable columns without a default: added without rewriting the table.
ALTER TABLE devices ADD COLUMN inform_values BIGINT;
ALTER TABLE devices ADD COLUMN inform_paths BIGINT;
