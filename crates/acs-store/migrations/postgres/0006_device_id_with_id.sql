-- Pages of device queries walk devices in device_id order and test each device (by its
-- id) until the page is full. The unique index on device_id now carries the id, so that
-- walk reads the index alone instead of one heap tuple per device tested (10,000 of them
-- for a tag on 1% of a million devices). The constraint keeps its name and still serves
-- ON CONFLICT (device_id).
ALTER TABLE devices DROP CONSTRAINT devices_device_id_key;
ALTER TABLE devices ADD CONSTRAINT devices_device_id_key UNIQUE (device_id) INCLUDE (id);
