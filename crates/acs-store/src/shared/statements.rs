//! SQL statements both stores run as they are. Placeholders are written `$1, $2...`:
//! PostgreSQL numbers its parameters so, and SQLite takes `$1` as a named parameter whose
//! index is its first appearance, so each statement names its parameters first in their
//! order (a unit test checks), and binds them by position on both.

/// A tag (kept if already there).
pub(crate) const ADD_TAG: &str = "\
    INSERT INTO tags (device, tag) VALUES ($1, $2) ON CONFLICT (device, tag) DO NOTHING";

/// Forgets the connection-request credentials (at a bootstrap).
pub(crate) const CLEAR_CR_CREDENTIALS: &str = "\
    UPDATE devices SET cr_username = NULL, cr_password = NULL WHERE id = $1";

/// Queued tasks and recorded faults.
pub(crate) const COUNTS: &str = "\
    SELECT (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM faults)";

/// The credential presented under a username.
pub(crate) const CPE_CREDENTIAL: &str = "\
    SELECT device_id, ha1_md5, ha1_sha256 FROM cpe_credentials WHERE username = $1";

/// A device's parameters whose path is `$2` or after.
pub(crate) const DELETE_PARAMS_FROM: &str = "\
    DELETE FROM params WHERE device = $1 AND path IN (SELECT id FROM paths WHERE path >= \
    $2)";

/// A device's parameters whose path is in [`$2`, `$3`).
pub(crate) const DELETE_PARAMS_RANGE: &str = "\
    DELETE FROM params WHERE device = $1 AND path IN (SELECT id FROM paths WHERE path >= \
    $2 AND path < $3)";

/// A completed transfer.
pub(crate) const DELETE_TRANSFER: &str = "\
    DELETE FROM transfers WHERE device = $1 AND command_key = $2";

/// A device's internal id and connection-request credentials.
pub(crate) const DEVICE_CR_CREDENTIALS: &str = "\
    SELECT id, cr_username, cr_password FROM devices WHERE device_id = $1";

/// The summary of a device by device id.
/// Tags come joined by [`TAG_SEPARATOR`] (`string_agg`: SQLite 3.44+ and PostgreSQL), so
/// that a session with presets starts from one statement.
pub(crate) const DEVICE_SUMMARY: &str = "\
    SELECT d.cr_username, d.cr_password, d.last_inform, EXISTS (SELECT 1 FROM tasks t \
    WHERE t.device = d.id), EXISTS (SELECT 1 FROM transfers x WHERE x.device = d.id), \
    d.registered, d.last_boot, d.last_bootstrap, EXISTS (SELECT 1 FROM faults f WHERE \
    f.device = d.id), (SELECT string_agg(g.tag, '\u{1f}') FROM tags g WHERE g.device = \
    d.id) FROM devices d WHERE d.device_id = $1";

/// Joins the tags in [`DEVICE_SUMMARY`]: the ASCII unit separator, which no tag holds.
pub(crate) const TAG_SEPARATOR: char = '\u{1f}';

/// The tags of [`DEVICE_SUMMARY`]'s last column, sorted.
pub(crate) fn summary_tags(joined: Option<String>) -> Vec<String> {
    let mut tags: Vec<String> = joined
        .as_deref()
        .unwrap_or("")
        .split(TAG_SEPARATOR)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    tags.sort_unstable();
    tags
}

/// An Inform's event codes.
pub(crate) const INSERT_EVENT: &str = "\
    INSERT INTO events (device, ts, codes, retry_count) VALUES ($1, $2, $3, $4)";

/// One chunk of events older than `$1`, at most `$2`.
pub(crate) const PRUNE_EVENTS: &str = "\
    DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < $1 LIMIT $2)";

/// Makes a faulted task due again.
pub(crate) const RETRY_TASK: &str = "UPDATE tasks SET not_before = NULL, retries = 0 WHERE id = $1";

/// A device's tasks due at `$2`, oldest first.
pub(crate) const SESSION_TASKS: &str = "\
    SELECT id, json, created, expiry, progress, retries, not_before FROM tasks WHERE \
    device = $1 AND (expiry IS NULL OR expiry > $2) AND (not_before IS NULL OR not_before \
    <= $2) ORDER BY id";

/// A device's pending transfers, oldest first.
pub(crate) const SESSION_TRANSFERS: &str = "\
    SELECT command_key, task, detail, started FROM transfers WHERE device = $1 ORDER BY \
    started, command_key";

/// A device's tags, for its session.
pub(crate) const SESSION_TAGS: &str = "SELECT tag FROM tags WHERE device = $1 ORDER BY tag";

/// A device's faults outside task channels, for its session.
pub(crate) const SESSION_CHANNEL_FAULTS: &str = "\
    SELECT channel, timestamp, retries FROM faults WHERE device = $1 AND channel NOT LIKE \
    'task\\_%' ESCAPE '\\' ORDER BY channel";

/// The connection-request credentials the ACS set on a device.
pub(crate) const SET_CR_CREDENTIALS: &str = "\
    UPDATE devices SET cr_username = $1, cr_password = $2 WHERE id = $3";

/// A device's tasks with a unique key.
pub(crate) const TASKS_BY_KEY: &str = "SELECT id FROM tasks WHERE device = $1 AND unique_key = $2";

/// The device id of a task.
pub(crate) const TASK_DEVICE: &str = "\
    SELECT d.device_id FROM tasks t JOIN devices d ON d.id = t.device WHERE t.id = $1";

/// A task's retry count and next attempt.
pub(crate) const TASK_FAULTED: &str = "\
    UPDATE tasks SET retries = $1, not_before = $2 WHERE id = $3 AND device = $4";

/// A task's internal device id and device id.
pub(crate) const TASK_OWNER: &str = "\
    SELECT d.id, d.device_id FROM tasks t JOIN devices d ON d.id = t.device WHERE t.id = \
    $1";

/// A CPE credential: username, device id, HA1s.
pub(crate) const UPSERT_CPE_CREDENTIAL: &str = "\
    INSERT INTO cpe_credentials (username, device_id, ha1_md5, ha1_sha256) VALUES ($1, $2, \
    $3, $4) ON CONFLICT (username) DO UPDATE SET device_id = excluded.device_id, ha1_md5 = \
    excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256";

/// A device at its Inform: `$1` device id, `$2`-`$5` identity, `$6` time, `$7` boot time,
/// `$8` bootstrap time, `$9` CWMP version, `$10` remote address, `$11` and `$12` the
/// Inform's digests (`shared::inform`); returns its internal id.
pub(crate) const UPSERT_DEVICE: &str = "\
    INSERT INTO devices (device_id, manufacturer, oui, product_class, serial_number, \
    registered, last_inform, last_boot, last_bootstrap, cwmp_version, remote_address, \
    inform_values, inform_paths) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, \
    $12) ON CONFLICT (device_id) DO UPDATE SET manufacturer = excluded.manufacturer, oui = \
    excluded.oui, product_class = excluded.product_class, serial_number = \
    excluded.serial_number, last_inform = excluded.last_inform, last_boot = \
    COALESCE(excluded.last_boot, devices.last_boot), last_bootstrap = \
    COALESCE(excluded.last_bootstrap, devices.last_bootstrap), cwmp_version = \
    excluded.cwmp_version, remote_address = COALESCE(excluded.remote_address, \
    devices.remote_address), inform_values = excluded.inform_values, inform_paths = \
    excluded.inform_paths RETURNING id";

/// A fault by device and channel.
pub(crate) const UPSERT_FAULT: &str = "\
    INSERT INTO faults (device, channel, code, message, detail, timestamp, retries) VALUES \
    ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device, channel) DO UPDATE SET code = \
    excluded.code, message = excluded.message, detail = excluded.detail, timestamp = \
    excluded.timestamp, retries = excluded.retries";

/// An API token.
pub(crate) const UPSERT_TOKEN: &str = "\
    INSERT INTO tokens (hash, name, created) VALUES ($1, $2, $3) ON CONFLICT (hash) DO \
    UPDATE SET name = excluded.name, created = excluded.created";

/// A transfer started by the ACS.
pub(crate) const UPSERT_TRANSFER: &str = "\
    INSERT INTO transfers (device, command_key, task, detail, started) VALUES ($1, $2, $3, \
    $4, $5) ON CONFLICT (device, command_key) DO UPDATE SET task = excluded.task, detail = \
    excluded.detail, started = excluded.started";

/// Deletes a device (`$1`, its internal id) and everything of it.
pub(crate) const DELETE_DEVICE: [&str; 7] = [
    "DELETE FROM params WHERE device = $1",
    "DELETE FROM tags WHERE device = $1",
    "DELETE FROM events WHERE device = $1",
    "DELETE FROM tasks WHERE device = $1",
    "DELETE FROM faults WHERE device = $1",
    "DELETE FROM transfers WHERE device = $1",
    "DELETE FROM devices WHERE id = $1",
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Each statement's parameters first appear in their order, `$1` first.
    fn in_order(sql: &str) -> bool {
        let mut next = 1;
        let mut rest = sql;
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let n: u32 = digits.parse().unwrap();
            if n == next {
                next += 1;
            } else if n > next {
                return false;
            }
        }
        true
    }

    #[test]
    fn parameters_appear_in_order() {
        let all = [
            ADD_TAG,
            CLEAR_CR_CREDENTIALS,
            COUNTS,
            CPE_CREDENTIAL,
            DELETE_PARAMS_FROM,
            DELETE_PARAMS_RANGE,
            DELETE_TRANSFER,
            DEVICE_CR_CREDENTIALS,
            DEVICE_SUMMARY,
            INSERT_EVENT,
            PRUNE_EVENTS,
            RETRY_TASK,
            SESSION_TASKS,
            SESSION_TRANSFERS,
            SESSION_TAGS,
            SESSION_CHANNEL_FAULTS,
            SET_CR_CREDENTIALS,
            TASKS_BY_KEY,
            TASK_DEVICE,
            TASK_FAULTED,
            TASK_OWNER,
            UPSERT_CPE_CREDENTIAL,
            UPSERT_DEVICE,
            UPSERT_FAULT,
            UPSERT_TOKEN,
            UPSERT_TRANSFER,
        ];
        for sql in all.iter().chain(DELETE_DEVICE.iter()) {
            assert!(in_order(sql), "{sql}");
        }
        assert!(!in_order("UPDATE t SET a = $2 WHERE b = $1"));
    }
}
