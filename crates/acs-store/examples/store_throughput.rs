//! Measures the SQLite store on a temporary file:
//!
//! 1. commit throughput of Informs (20 parameters each) from 64 concurrent tasks, with
//!    `synchronous=FULL` and with `NORMAL`: commits per second, the mean group size (calls
//!    per transaction) and commit latency; first of new devices (every parameter a new row
//!    in every index), then of known devices with unchanged values (periodic Informs);
//! 2. the database size per device with 300 parameters each.
//!
//! ```text
//! cargo run --release -p acs-store --example store_throughput [-- SECONDS DEVICES DIR]
//! ```
//!
//! SECONDS (default 5) per throughput run, DEVICES (default 10000) for the size run, DIR
//! (default: the system's temporary directory) where the databases are written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use acs_core::change::{Change, Event, InformRecord, ParamUpdate};
use acs_core::device::{DeviceIdentity, StoredValue, ValueType};
use acs_core::{DeviceId, Timestamp};
use acs_store::Store;
use acs_store::sqlite::{SqliteOptions, SqliteStore};

const TASKS: usize = 64;
const THROUGHPUT_PARAMS: usize = 20;
const SIZE_PARAMS: usize = 300;
const T0: i64 = 1_714_564_800_000;

/// A small deterministic generator (xorshift64*), so that runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The `j`-th parameter of a device, with a value of a realistic mix of types: 40%
/// strings of 4 to 24 characters, 35% unsigned integers, 15% booleans, 10% date-times.
fn parameter(j: usize, rng: &mut Rng, at: i64) -> ParamUpdate {
    let path = format!(
        "Device.Bench.Object{}.Instance{}.Parameter{j}",
        j / 30,
        j % 7
    );
    let (text, value_type) = match j % 20 {
        0..=7 => {
            let len = 4 + (rng.next() % 21) as usize;
            let s: String = (0..len)
                .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
                .collect();
            (s, ValueType::String)
        }
        8..=14 => ((rng.next() % 100_000).to_string(), ValueType::UnsignedInt),
        15..=17 => (
            if rng.next().is_multiple_of(2) {
                "true"
            } else {
                "false"
            }
            .to_owned(),
            ValueType::Boolean,
        ),
        _ => {
            // Whole seconds, as CPEs send them: 2024-05-01T12:00:00Z.
            let t = Timestamp(T0 - (rng.next() % 10_000_000_000) as i64).to_rfc3339();
            (format!("{}Z", &t[..19]), ValueType::DateTime)
        }
    };
    ParamUpdate {
        path,
        object: false,
        writable: Some(j.is_multiple_of(3)),
        value: Some(StoredValue { text, value_type }),
        ts: Some(Timestamp(at)),
        attributes: None,
    }
}

/// An Inform of device `serial` at `at` with `params` parameters whose values come from
/// `seed` (the same seed gives the same values).
fn inform(serial: &str, params: usize, seed: u64, at: i64) -> Change {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    Change::Inform(InformRecord {
        device: DeviceId::from_identity("00D09E", "HGW", serial),
        identity: DeviceIdentity {
            manufacturer: "Acme".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: serial.into(),
        },
        at: Timestamp(at),
        events: vec![Event {
            code: "2 PERIODIC".into(),
            command_key: String::new(),
        }],
        retry_count: 0,
        cwmp_version: "1.2".into(),
        bootstrap: false,
        boot: false,
        params: (0..params).map(|j| parameter(j, &mut rng, at)).collect(),
        remote_address: Some("192.0.2.1".into()),
    })
}

/// Bytes this process has caused to be written to storage so far (Linux), if known.
fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|n| n.trim().parse().ok())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Devices per task in the known-devices run.
const KNOWN_PER_TASK: u64 = 50;

/// Commits Informs from [`TASKS`] tasks for `seconds`: of new devices, or (`known`) again
/// of devices already stored, with the same values (as periodic Informs mostly are).
async fn throughput(dir: &Path, full: bool, known: bool, seconds: u64) {
    let store = SqliteStore::open(
        &dir.join(format!("throughput-{full}-{known}.db")),
        SqliteOptions {
            synchronous_full: full,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    // Warm up: intern the paths; for the known-devices run, store the devices.
    store
        .commit(vec![inform("warmup", THROUGHPUT_PARAMS, 1, T0)])
        .await
        .unwrap();
    if known {
        let mut handles = Vec::new();
        for task in 0..TASKS as u64 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                for n in 0..KNOWN_PER_TASK {
                    let i = task * KNOWN_PER_TASK + n;
                    let change = inform(&format!("K{i}"), THROUGHPUT_PARAMS, i, T0);
                    store.commit(vec![change]).await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    }
    let before = store.writer_stats();
    let written_before = written_bytes();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies_us: Vec<u32> = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let at = T0 + 1000 + n as i64;
                let change = if known {
                    let i = task as u64 * KNOWN_PER_TASK + n % KNOWN_PER_TASK;
                    inform(&format!("K{i}"), THROUGHPUT_PARAMS, i, at)
                } else {
                    let seed = (task as u64) << 32 | n;
                    inform(&format!("T{task}N{n}"), THROUGHPUT_PARAMS, seed, at)
                };
                let t = Instant::now();
                store.commit(vec![change]).await.unwrap();
                latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                n += 1;
            }
            latencies_us
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after = store.writer_stats();
    let written = written_bytes()
        .zip(written_before)
        .map(|(a, b)| a.saturating_sub(b));
    latencies.sort_unstable();
    let calls = after.calls - before.calls;
    let transactions = after.transactions - before.transactions;
    println!(
        "{} devices, synchronous={:<6} {:>6.0} commits/s ({} Informs x {THROUGHPUT_PARAMS} \
         params in {elapsed:.1} s), mean group {:.1} calls/transaction ({transactions} \
         transactions), latency p50 {:.2} ms p99 {:.2} ms, {} KB written per Inform",
        if known { "known" } else { "new  " },
        if full { "FULL" } else { "NORMAL" },
        calls as f64 / elapsed,
        calls,
        calls as f64 / transactions.max(1) as f64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        written.map_or("?".to_owned(), |w| format!(
            "{:.1}",
            w as f64 / calls.max(1) as f64 / 1e3
        )),
    );
}

fn file_size(conn: &rusqlite::Connection) -> u64 {
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    (pages * size) as u64
}

async fn size(dir: &Path, devices: usize) {
    let path = dir.join("size.db");
    let store = SqliteStore::open(
        &path,
        SqliteOptions {
            synchronous_full: false,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let start = Instant::now();
    let mut handles = Vec::new();
    let per_task = devices.div_ceil(16);
    for task in 0..16 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for n in 0..per_task {
                let i = task * per_task + n;
                if i >= devices {
                    break;
                }
                let at = T0 + i as i64;
                let change = inform(&format!("S{i:07}"), SIZE_PARAMS, i as u64, at);
                store.commit(vec![change]).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(store);

    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM params", [], |r| r.get(0))
        .unwrap();
    let as_written = file_size(&conn);
    conn.execute_batch("VACUUM").unwrap();
    let vacuumed = file_size(&conn);
    conn.execute_batch("DROP INDEX params_value; DROP INDEX params_num; VACUUM")
        .unwrap();
    let without_indexes = file_size(&conn);
    let per = |bytes: u64| bytes as f64 / devices as f64;
    println!(
        "size: {devices} devices x {SIZE_PARAMS} params ({rows} rows) written in {elapsed:.1} s \
         ({:.0} params/s)",
        rows as f64 / elapsed
    );
    println!(
        "  as written: {:.1} MB, {:.1} KB/device, {:.0} B/param -> {:.1} GB per million devices",
        as_written as f64 / 1e6,
        per(as_written) / 1e3,
        as_written as f64 / rows as f64,
        per(as_written) * 1e6 / 1e9,
    );
    println!(
        "  vacuumed:   {:.1} MB, {:.1} KB/device, {:.0} B/param",
        vacuumed as f64 / 1e6,
        per(vacuumed) / 1e3,
        vacuumed as f64 / rows as f64,
    );
    println!(
        "  vacuumed, without params_value and params_num: {:.1} MB, {:.0} B/param",
        without_indexes as f64 / 1e6,
        without_indexes as f64 / rows as f64,
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args.get(1).map_or(5, |s| s.parse().unwrap());
    let devices = args.get(2).map_or(10_000, |s| s.parse().unwrap());
    let base = args
        .get(3)
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let dir = tempfile::tempdir_in(base).unwrap();
    println!("databases in {}", dir.path().display());
    for known in [false, true] {
        throughput(dir.path(), true, known, seconds).await;
        throughput(dir.path(), false, known, seconds).await;
    }
    size(dir.path(), devices).await;
}
