-- Devices by tag read `device` from the tag's index entries alone. The index on (tag)
-- held no device, so each of a tag's devices cost a visit to the table's heap (a tag on
-- 1% of a million devices: 10,000 random heap reads). SQLite's tags table is WITHOUT
-- ROWID, so its index on (tag) carries the key (device) already: this makes PostgreSQL's
-- the same.
DROP INDEX tags_tag;
CREATE INDEX tags_tag ON tags (tag, device);
