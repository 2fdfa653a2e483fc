//! Prometheus metrics (`/metrics`).
//!
//! The functions below record through the `metrics` facade; [`install`] sets the process's
//! global recorder (a Prometheus one) the first time it is called and returns a [`Handle`]
//! that renders the text format. Later calls return a handle to the same recorder, so
//! several servers in one process (tests) share it. Until [`install`] runs, recording does
//! nothing.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter of ended sessions, by `outcome`.
pub const SESSIONS_TOTAL: &str = "acs_sessions_total";
/// Histogram of ACS request durations, by `method`.
pub const RPC_DURATION: &str = "acs_rpc_duration_seconds";
/// Gauge of sessions in progress.
pub const ACTIVE_SESSIONS: &str = "acs_active_sessions";
/// Gauge of queued tasks.
pub const QUEUED_TASKS: &str = "acs_queued_tasks";
/// Gauge of recorded faults.
pub const FAULTS: &str = "acs_faults";
/// Counter of connection requests, by `outcome`.
pub const CONNECTION_REQUESTS_TOTAL: &str = "acs_connection_requests_total";
/// Counter of reads of a device's stored data for a session, by `when`: `start` (the
/// device had tasks, transfers or faults) or `provisioning` (a preset looked beyond the
/// Inform).
pub const DEVICE_DATA_LOADS_TOTAL: &str = "acs_device_data_loads_total";
/// Counter of transactions the store's writer committed (one per group of writes).
pub const STORE_TRANSACTIONS_TOTAL: &str = "acs_store_transactions_total";
/// Counter of writes the store's writer committed: divided by the transactions, the mean
/// group size of the group commit.
pub const STORE_WRITES_TOTAL: &str = "acs_store_writes_total";
/// Counter of writes that failed (rolled back alone, or with their group).
pub const STORE_WRITE_FAILURES_TOTAL: &str = "acs_store_write_failures_total";
/// Counter of Informs written together with the others of their group (PostgreSQL).
pub const STORE_INFORMS_BATCHED_TOTAL: &str = "acs_store_informs_batched_total";
/// Counters of device summaries a session started from memory, and of those read from
/// the database (SQLite; `database.summary_cache_entries` sizes the memory).
pub const STORE_SUMMARY_HITS_TOTAL: &str = "acs_store_summary_cache_hits_total";
/// See [`STORE_SUMMARY_HITS_TOTAL`].
pub const STORE_SUMMARY_MISSES_TOTAL: &str = "acs_store_summary_cache_misses_total";
/// Counters of the WAL checkpoints the SQLite store's checkpointer ran, and of those that
/// failed.
pub const STORE_CHECKPOINTS_TOTAL: &str = "acs_store_checkpoints_total";
/// See [`STORE_CHECKPOINTS_TOTAL`].
pub const STORE_CHECKPOINT_FAILURES_TOTAL: &str = "acs_store_checkpoint_failures_total";
/// Gauge of the frames (pages) in the SQLite store's WAL after the last commit.
pub const STORE_WAL_FRAMES: &str = "acs_store_wal_frames";

/// Upper bounds of the RPC duration buckets, seconds: 0.5 ms to 30 s.
const RPC_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    30.0,
];

/// How often histogram samples are folded into their buckets when nothing scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Installs the recorder (once per process) and returns a handle that renders the metrics.
pub fn install() -> Handle {
    HANDLE.get_or_init(build).clone()
}

fn build() -> Handle {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(RPC_DURATION.to_owned()), &RPC_BUCKETS)
        // Only an empty bucket list fails; the default (a summary) would do then.
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(error) = metrics::set_global_recorder(recorder) {
        // Another recorder was installed first (not by this module): ours stays empty.
        tracing::warn!(%error, "metrics recorder not installed; /metrics will be empty");
    }
    describe();
    // Histogram samples accumulate until upkeep (or a scrape) folds them into buckets.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "metrics upkeep thread not started");
    }
    Handle { inner: handle }
}

fn describe() {
    describe_counter!(SESSIONS_TOTAL, "CWMP sessions ended, by outcome.");
    describe_histogram!(
        RPC_DURATION,
        Unit::Seconds,
        "Time from sending an ACS request to a CPE to receiving its response, by method."
    );
    describe_gauge!(ACTIVE_SESSIONS, "CWMP sessions in progress.");
    describe_gauge!(QUEUED_TASKS, "Tasks queued for devices.");
    describe_gauge!(FAULTS, "Faults recorded for devices.");
    describe_counter!(
        CONNECTION_REQUESTS_TOTAL,
        "Connection requests sent to devices, by outcome."
    );
    describe_counter!(
        DEVICE_DATA_LOADS_TOTAL,
        "Reads of a device's stored data for a session: at its start, or when provisioning needed more than the Inform."
    );
    describe_counter!(
        STORE_TRANSACTIONS_TOTAL,
        "Transactions the store's writer committed, each a group of writes."
    );
    describe_counter!(STORE_WRITES_TOTAL, "Writes the store's writer committed.");
    describe_counter!(
        STORE_WRITE_FAILURES_TOTAL,
        "Writes that failed, rolled back alone or with their group."
    );
    describe_counter!(
        STORE_INFORMS_BATCHED_TOTAL,
        "Informs written together with the others of their group (PostgreSQL)."
    );
    describe_counter!(
        STORE_SUMMARY_HITS_TOTAL,
        "Device summaries sessions started from, held in memory (SQLite)."
    );
    describe_counter!(
        STORE_SUMMARY_MISSES_TOTAL,
        "Device summaries not held in memory and read from the database (SQLite)."
    );
    describe_counter!(
        STORE_CHECKPOINTS_TOTAL,
        "WAL checkpoints run by the store's checkpointer thread (SQLite)."
    );
    describe_counter!(
        STORE_CHECKPOINT_FAILURES_TOTAL,
        "WAL checkpoints that failed; the WAL keeps what was not copied (SQLite)."
    );
    describe_gauge!(
        STORE_WAL_FRAMES,
        "Frames (pages) in the WAL after the last commit (SQLite)."
    );
}

/// Renders the metrics in the Prometheus text format.
#[derive(Debug, Clone)]
pub struct Handle {
    inner: PrometheusHandle,
}

impl Handle {
    /// The text of `/metrics`.
    pub fn render(&self) -> String {
        self.inner.render()
    }
}

/// A session ended with this outcome (`ok`, `fault`, `timeout`, `unauthorized`, `error`,
/// `busy`, ...).
pub fn session_ended(outcome: &'static str) {
    counter!(SESSIONS_TOTAL, "outcome" => outcome).increment(1);
}

/// An ACS request and its response took this long.
pub fn rpc(method: &'static str, duration: Duration) {
    histogram!(RPC_DURATION, "method" => method).record(duration.as_secs_f64());
}

/// Sessions in progress.
pub fn active_sessions(n: usize) {
    gauge!(ACTIVE_SESSIONS).set(n as f64);
}

/// Queued tasks and recorded faults.
pub fn queue(tasks: u64, faults: u64) {
    gauge!(QUEUED_TASKS).set(tasks as f64);
    gauge!(FAULTS).set(faults as f64);
}

/// A connection request's outcome (`ok`, `unreachable`, `timeout`, `auth`, `status`, ...).
pub fn connection_request(outcome: &'static str) {
    counter!(CONNECTION_REQUESTS_TOTAL, "outcome" => outcome).increment(1);
}

/// The store writer's counters, as of now (set at each scrape).
pub fn store_writer(stats: &acs_store::WriterStats) {
    counter!(STORE_TRANSACTIONS_TOTAL).absolute(stats.transactions);
    counter!(STORE_WRITES_TOTAL).absolute(stats.calls);
    counter!(STORE_WRITE_FAILURES_TOTAL).absolute(stats.failed);
    counter!(STORE_INFORMS_BATCHED_TOTAL).absolute(stats.informs_batched);
    counter!(STORE_SUMMARY_HITS_TOTAL).absolute(stats.summary_hits);
    counter!(STORE_SUMMARY_MISSES_TOTAL).absolute(stats.summary_misses);
    counter!(STORE_CHECKPOINTS_TOTAL).absolute(stats.checkpoints);
    counter!(STORE_CHECKPOINT_FAILURES_TOTAL).absolute(stats.checkpoint_failures);
    gauge!(STORE_WAL_FRAMES).set(stats.wal_frames as f64);
}

/// A session read its device's stored data (`start` or `provisioning`).
pub fn device_data_loaded(when: &'static str) {
    counter!(DEVICE_DATA_LOADS_TOTAL, "when" => when).increment(1);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_are_rendered() {
        let handle = install();
        // A second install returns the same recorder.
        let again = install();
        session_ended("ok");
        session_ended("ok");
        session_ended("fault");
        rpc("GetParameterValues", Duration::from_millis(3));
        rpc("GetParameterValues", Duration::from_secs(40));
        active_sessions(7);
        queue(12, 3);
        connection_request("unreachable");
        device_data_loaded("provisioning");
        let text = again.render();
        for line in [
            "# HELP acs_sessions_total CWMP sessions ended, by outcome.",
            "# TYPE acs_sessions_total counter",
            "acs_sessions_total{outcome=\"ok\"} 2",
            "acs_sessions_total{outcome=\"fault\"} 1",
            "# TYPE acs_rpc_duration_seconds histogram",
            "acs_rpc_duration_seconds_bucket{method=\"GetParameterValues\",le=\"0.0005\"} 0",
            "acs_rpc_duration_seconds_bucket{method=\"GetParameterValues\",le=\"0.005\"} 1",
            "acs_rpc_duration_seconds_bucket{method=\"GetParameterValues\",le=\"30\"} 1",
            "acs_rpc_duration_seconds_bucket{method=\"GetParameterValues\",le=\"+Inf\"} 2",
            "acs_rpc_duration_seconds_count{method=\"GetParameterValues\"} 2",
            "# HELP acs_active_sessions CWMP sessions in progress.",
            "acs_active_sessions 7",
            "acs_queued_tasks 12",
            "acs_faults 3",
            "# HELP acs_connection_requests_total Connection requests sent to devices, by outcome.",
            "acs_connection_requests_total{outcome=\"unreachable\"} 1",
            "acs_device_data_loads_total{when=\"provisioning\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing from\n{text}"
            );
        }
        active_sessions(2);
        assert!(
            handle
                .render()
                .lines()
                .any(|l| l == "acs_active_sessions 2")
        );
    }
}
