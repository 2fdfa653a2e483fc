-- The device store, first version.
--
-- Portable SQL where it costs nothing: a PostgreSQL migration with the same tables and
-- columns follows. Times are INTEGER milliseconds since the Unix epoch. The only
-- SQLite-only syntax is WITHOUT ROWID (PostgreSQL tables are heaps anyway) and
-- AUTOINCREMENT on tasks (standard SQL's identity columns are not in SQLite; task ids are
-- shown to API clients and must never be reused).
--
-- No foreign keys are declared: the single writer keeps the references consistent
-- (deleting a device deletes its rows everywhere), and checking a reference per parameter
-- row would cost the hot path a lookup per row.

-- One row per device. `id` is the internal key every other table uses.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE,
    manufacturer TEXT,
    oui TEXT,
    product_class TEXT,
    serial_number TEXT,
    registered INTEGER,
    last_inform INTEGER,
    last_boot INTEGER,
    last_bootstrap INTEGER,
    cwmp_version TEXT,
    remote_address TEXT,
    cr_username TEXT,
    cr_password TEXT
);
CREATE INDEX devices_last_inform ON devices (last_inform);
CREATE INDEX devices_serial_number ON devices (serial_number);
CREATE INDEX devices_oui_product_class ON devices (oui, product_class);

-- Parameter paths, interned: a million devices share a few thousand paths. Rows are never
-- deleted, so an id always names the same path.
CREATE TABLE paths (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);

-- What is known of each path of each device.
--
-- Size: a row holds the device (3 bytes as a varint at a million devices), the path id
-- (2), the value (12 on average), the number (0 to 8; SQLite writes integral reals as
-- integers), the timestamp (6), a 13-byte record header and about 4 bytes of cell
-- overhead: about 50 bytes. Each row also has an entry in params_value (path, value,
-- device: about 25 bytes) and, for numeric values, in params_num (about 17 bytes).
-- With B-tree pages 70-90% full that is about 100 bytes per parameter. Measured with
-- examples/store_throughput.rs (10,000 devices x 300 parameters of mixed types): 83 bytes
-- per parameter as written, 74 after VACUUM, of which the two value indexes take 32; so a
-- million devices with 300 parameters each need about 25 GB.
--
-- object: 1 for object paths (ending with '.'). writable: 0/1, NULL if unknown.
-- value: the canonical text, NULL if never read. type: ValueType::code(), with other_type
-- naming the type for code 9. num: StoredValue::number() (integers, booleans 0/1,
-- date-times in ms) for numeric comparisons. ts: when the value was last read (objects:
-- when the names below were enumerated), NULL if never. notification, access_list (a JSON
-- array of strings), attr_ts: the attributes, NULL if never read.
CREATE TABLE params (
    device INTEGER NOT NULL,
    path INTEGER NOT NULL,
    object INTEGER NOT NULL,
    writable INTEGER,
    value TEXT,
    type INTEGER,
    other_type TEXT,
    num REAL,
    ts INTEGER,
    notification INTEGER,
    access_list TEXT,
    attr_ts INTEGER,
    PRIMARY KEY (device, path)
) WITHOUT ROWID;
CREATE INDEX params_value ON params (path, value);
CREATE INDEX params_num ON params (path, num) WHERE num IS NOT NULL;

CREATE TABLE tags (
    device INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (device, tag)
) WITHOUT ROWID;
CREATE INDEX tags_tag ON tags (tag);

-- One row per Inform: codes is a JSON array of [code, command key] pairs. Pruned after
-- the configured retention, in bounded chunks (hence the id and the index on ts).
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    codes TEXT NOT NULL,
    retry_count INTEGER NOT NULL
);
CREATE INDEX events_device_ts ON events (device, ts);
CREATE INDEX events_ts ON events (ts);

-- Queued tasks. json is the NewTask JSON as submitted (normalised), re-parsed with
-- acs_core::task::parse_task when loaded.
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device INTEGER NOT NULL,
    name TEXT NOT NULL,
    json TEXT NOT NULL,
    created INTEGER NOT NULL,
    expiry INTEGER,
    unique_key TEXT,
    progress TEXT,
    retries INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER
);
CREATE INDEX tasks_device ON tasks (device, id);
CREATE INDEX tasks_expiry ON tasks (expiry) WHERE expiry IS NOT NULL;

-- Faults by channel (task_<id> for a task's fault). detail is JSON.
CREATE TABLE faults (
    device INTEGER NOT NULL,
    channel TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    detail TEXT,
    timestamp INTEGER NOT NULL,
    retries INTEGER NOT NULL,
    PRIMARY KEY (device, channel)
);

-- Transfers awaiting their completion. detail is JSON.
CREATE TABLE transfers (
    device INTEGER NOT NULL,
    command_key TEXT NOT NULL,
    task INTEGER,
    detail TEXT NOT NULL,
    started INTEGER NOT NULL,
    PRIMARY KEY (device, command_key)
);

-- CPE credentials, keyed by the device-id string so that they can be provisioned before
-- the device's first Inform.
CREATE TABLE cpe_credentials (
    username TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL
);
CREATE INDEX cpe_credentials_device ON cpe_credentials (device_id);

-- API tokens: the hex SHA-256 of the secret.
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL
);
