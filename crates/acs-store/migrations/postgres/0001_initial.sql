-- The device store on PostgreSQL, first version: the tables and columns of the SQLite
-- schema (migrations/sqlite/0001_initial.sql, which explains them), with PostgreSQL's
-- types. Times are BIGINT milliseconds since the Unix epoch. Text columns use the "C"
-- collation: they compare and sort byte-wise, as SQLite compares them, and their B-tree
-- indexes serve range and prefix scans. JSON stays TEXT, as written (JSONB would reorder
-- the keys of task documents, which the API shows as submitted).
--
-- No foreign keys, as on SQLite: the writer keeps references consistent.

CREATE TABLE devices (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id TEXT COLLATE "C" NOT NULL UNIQUE,
    manufacturer TEXT COLLATE "C",
    oui TEXT COLLATE "C",
    product_class TEXT COLLATE "C",
    serial_number TEXT COLLATE "C",
    registered BIGINT,
    last_inform BIGINT,
    last_boot BIGINT,
    last_bootstrap BIGINT,
    cwmp_version TEXT,
    remote_address TEXT,
    cr_username TEXT,
    cr_password TEXT
);
CREATE INDEX devices_last_inform ON devices (last_inform);
CREATE INDEX devices_serial_number ON devices (serial_number);
CREATE INDEX devices_oui_product_class ON devices (oui, product_class);

-- Interned parameter paths; rows are never deleted, ids never reused.
CREATE TABLE paths (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path TEXT COLLATE "C" NOT NULL UNIQUE
);

CREATE TABLE params (
    device BIGINT NOT NULL,
    path BIGINT NOT NULL,
    object BOOLEAN NOT NULL,
    writable BOOLEAN,
    value TEXT COLLATE "C",
    type SMALLINT,
    other_type TEXT,
    num DOUBLE PRECISION,
    ts BIGINT,
    notification SMALLINT,
    access_list TEXT,
    attr_ts BIGINT,
    PRIMARY KEY (device, path)
);
CREATE INDEX params_value ON params (path, value);
CREATE INDEX params_num ON params (path, num) WHERE num IS NOT NULL;

CREATE TABLE tags (
    device BIGINT NOT NULL,
    tag TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (device, tag)
);
CREATE INDEX tags_tag ON tags (tag);

CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    codes TEXT NOT NULL,
    retry_count BIGINT NOT NULL
);
CREATE INDEX events_device_ts ON events (device, ts);
CREATE INDEX events_ts ON events (ts);

CREATE TABLE tasks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device BIGINT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    json TEXT NOT NULL,
    created BIGINT NOT NULL,
    expiry BIGINT,
    unique_key TEXT,
    progress TEXT,
    retries BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT
);
CREATE INDEX tasks_device ON tasks (device, id);
CREATE INDEX tasks_expiry ON tasks (expiry) WHERE expiry IS NOT NULL;

CREATE TABLE faults (
    device BIGINT NOT NULL,
    channel TEXT COLLATE "C" NOT NULL,
    code TEXT COLLATE "C" NOT NULL,
    message TEXT NOT NULL,
    detail TEXT,
    timestamp BIGINT NOT NULL,
    retries BIGINT NOT NULL,
    PRIMARY KEY (device, channel)
);

CREATE TABLE transfers (
    device BIGINT NOT NULL,
    command_key TEXT COLLATE "C" NOT NULL,
    task BIGINT,
    detail TEXT NOT NULL,
    started BIGINT NOT NULL,
    PRIMARY KEY (device, command_key)
);

CREATE TABLE cpe_credentials (
    username TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL
);
CREATE INDEX cpe_credentials_device ON cpe_credentials (device_id);

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created BIGINT NOT NULL
);
