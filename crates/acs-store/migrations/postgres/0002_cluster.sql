-- Several ACS nodes on one database (ARCHITECTURE.md, "Several nodes").
--
-- session_leases: which node runs a session with a device, until when. A node claims the
-- row when the device's Inform arrives (an upsert that succeeds only if the row is free,
-- expired or its own), renews it while the session lasts and deletes it at the end. A
-- node that dies deletes nothing: its rows expire. `session` tells a node's sessions
-- apart, so that the late release of a session that ended cannot delete the claim of the
-- device's next session on the same node. Rows, not advisory locks, because a
-- lease must outlive no connection and survive none: pooled connections come and go, and
-- CockroachDB has no advisory locks at all.
CREATE TABLE session_leases (
    device_id TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT NOT NULL,
    session TEXT NOT NULL,
    expires BIGINT NOT NULL
);

-- cluster_jobs: periodic work done by one node per period (expiring tasks, pruning
-- events). Claiming a run is an upsert that succeeds only when the row's next_run has
-- passed; the first node wins, the others see the row already moved on.
CREATE TABLE cluster_jobs (
    name TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT NOT NULL,
    next_run BIGINT NOT NULL
);
