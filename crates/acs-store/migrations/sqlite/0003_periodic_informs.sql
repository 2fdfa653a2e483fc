-- Digests of each device's last Inform's parameters (src/shared/inform.rs): an Inform
-- that repeats the last one leaves the parameter rows alone. inform_values: over paths
-- and values, NULL once anything else wrote the device's parameters. inform_paths: over
-- the paths. Parameter rows the last Inform carried have ts = -1, read as last_inform.
ALTER TABLE devices ADD COLUMN inform_values INTEGER;
ALTER TABLE devices ADD COLUMN inform_paths INTEGER;

-- The index on (path, value) keeps the rows whose value is not a number; numbers are in
-- params_num. A value changing from one number to another (counters, up time: most of
-- what changes between periodic Informs) then rewrites one index entry, not two (0.297
-- against 0.255 ms of CPU per periodic session, BENCHMARKS.md). Filters ask each part of
-- a parameter's rows through its own index (src/shared/filter.rs, `Part`).
DROP INDEX params_value;
CREATE INDEX params_value ON params (path, value) WHERE num IS NULL;
