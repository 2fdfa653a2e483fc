-- The NBI's "newest first" (sort {"_lastInform": -1}) is ORDER BY last_inform DESC NULLS
-- LAST, device_id: MongoDB's order of a missing field, and the id for stable pages. An
-- index in exactly that order lets a page of the newest devices stop after its rows;
-- the ascending index could not serve NULLS LAST descending, so PostgreSQL read and
-- sorted every match (40,000 devices in the last hour of a million: 100 ms). Read
-- backwards it serves the ascending sort (NULLS FIRST) as well, the id then sorted in
-- small groups.
DROP INDEX devices_last_inform;
CREATE INDEX devices_last_inform ON devices (last_inform DESC NULLS LAST, device_id);
