//! Counters of a run, shared by all device tasks, and the summary printed at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::net::SessionError;

/// Why a session failed, by class: the summary's "failed by cause".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCause {
    /// Name resolution or TCP connect failed, or timed out.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// No response in time.
    Timeout,
    /// The connection broke during an exchange.
    Connection,
    /// The ACS refused the credentials, or its challenge could not be answered.
    Auth,
    /// A non-2xx status the session could not go on after (503 included).
    Status,
    /// The ACS's answer made no CWMP sense to the agent (undecodable, unexpected message,
    /// fault to a CPE request).
    Protocol,
    /// Limits: body too large, too many exchanges.
    Limit,
}

impl FailureCause {
    /// The class of a session error.
    pub fn of(error: &SessionError) -> FailureCause {
        match error {
            SessionError::Connect(_) | SessionError::ConnectTimeout => FailureCause::Connect,
            SessionError::Tls(_) => FailureCause::Tls,
            SessionError::Timeout => FailureCause::Timeout,
            SessionError::Connection(_) => FailureCause::Connection,
            SessionError::AuthRejected
            | SessionError::NoUsableChallenge(_)
            | SessionError::Credentials(_) => FailureCause::Auth,
            SessionError::Status(_) => FailureCause::Status,
            SessionError::ResponseTooLarge | SessionError::TooManyExchanges => FailureCause::Limit,
            _ => FailureCause::Protocol,
        }
    }
}

/// Live counters, updated by every device task.
#[derive(Debug)]
pub struct Stats {
    devices_started: AtomicU64,
    devices_informed: AtomicU64,
    /// When the last device completed its first session, since the run started.
    all_informed: Mutex<Option<Duration>>,
    sessions_started: AtomicU64,
    sessions_ok: AtomicU64,
    rpcs_handled: AtomicU64,
    connection_requests: AtomicU64,
    transfers_ok: AtomicU64,
    transfers_failed: AtomicU64,
    failed: Mutex<BTreeMap<FailureCause, u64>>,
    /// Durations of successful sessions, microseconds.
    latency: Mutex<Option<Histogram<u64>>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked while counting; the counts are
    // still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Stats {
    /// Zero counters.
    pub fn new() -> Stats {
        // 1 µs to 1 hour with 3 significant digits (`new_with_bounds` fails only on
        // inverted bounds or more than 5 digits).
        let latency = Histogram::new_with_bounds(1, 3_600_000_000, 3).ok();
        Stats {
            devices_started: AtomicU64::new(0),
            devices_informed: AtomicU64::new(0),
            all_informed: Mutex::new(None),
            sessions_started: AtomicU64::new(0),
            sessions_ok: AtomicU64::new(0),
            rpcs_handled: AtomicU64::new(0),
            connection_requests: AtomicU64::new(0),
            transfers_ok: AtomicU64::new(0),
            transfers_failed: AtomicU64::new(0),
            failed: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(latency),
        }
    }

    pub(crate) fn device_started(&self) {
        self.devices_started.fetch_add(1, Ordering::Relaxed);
    }

    /// A device completed its first session; `elapsed` since the run started, `devices`
    /// in the run.
    pub(crate) fn device_informed(&self, elapsed: Duration, devices: u64) {
        if self.devices_informed.fetch_add(1, Ordering::Relaxed) + 1 == devices {
            *lock(&self.all_informed) = Some(elapsed);
        }
    }

    pub(crate) fn session_started(&self) {
        self.sessions_started.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn session_ok(&self, duration: Duration) {
        self.sessions_ok.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(duration.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        if let Some(h) = lock(&self.latency).as_mut() {
            h.saturating_record(us);
        }
    }

    pub(crate) fn session_failed(&self, cause: FailureCause) {
        *lock(&self.failed).entry(cause).or_insert(0) += 1;
    }

    pub(crate) fn rpcs(&self, n: u64) {
        self.rpcs_handled.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn connection_request(&self) {
        self.connection_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn transfer(&self, ok: bool) {
        let c = if ok {
            &self.transfers_ok
        } else {
            &self.transfers_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets the sessions counted so far (a warm-up's), keeping the devices' start-up.
    pub(crate) fn restart_measurement(&self) {
        for c in [
            &self.sessions_started,
            &self.sessions_ok,
            &self.rpcs_handled,
            &self.connection_requests,
            &self.transfers_ok,
            &self.transfers_failed,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        lock(&self.failed).clear();
        if let Some(h) = lock(&self.latency).as_mut() {
            h.reset();
        }
    }

    /// Devices powered on so far.
    pub fn devices_started(&self) -> u64 {
        self.devices_started.load(Ordering::Relaxed)
    }

    /// Sessions ended successfully so far.
    pub fn sessions_ok(&self) -> u64 {
        self.sessions_ok.load(Ordering::Relaxed)
    }

    /// Sessions failed so far.
    pub fn sessions_failed(&self) -> u64 {
        lock(&self.failed).values().sum()
    }

    /// A snapshot for the summary, over `elapsed`.
    pub fn summary(&self, devices: u64, elapsed: Duration) -> Summary {
        let guard = lock(&self.latency);
        let h = guard.as_ref().filter(|h| !h.is_empty());
        let ms = |q: f64| h.map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0);
        let failed_by_cause = lock(&self.failed).clone();
        let sessions_ok = self.sessions_ok();
        let secs = elapsed.as_secs_f64();
        Summary {
            devices,
            devices_started: self.devices_started(),
            devices_informed: self.devices_informed.load(Ordering::Relaxed),
            all_informed_secs: lock(&self.all_informed).map(|d| d.as_secs_f64()),
            elapsed_secs: secs,
            sessions_started: self.sessions_started.load(Ordering::Relaxed),
            sessions_ok,
            sessions_failed: failed_by_cause.values().sum(),
            failed_by_cause,
            sessions_per_sec: if secs > 0.0 {
                sessions_ok as f64 / secs
            } else {
                0.0
            },
            latency_ms: Latency {
                p50: ms(0.50),
                p90: ms(0.90),
                p99: ms(0.99),
                max: h.map_or(0.0, |h| h.max() as f64 / 1000.0),
            },
            rpcs_handled: self.rpcs_handled.load(Ordering::Relaxed),
            connection_requests: self.connection_requests.load(Ordering::Relaxed),
            transfers_ok: self.transfers_ok.load(Ordering::Relaxed),
            transfers_failed: self.transfers_failed.load(Ordering::Relaxed),
        }
    }
}

/// Latency percentiles of successful sessions, milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest.
    pub max: f64,
}

/// What a run did: printed as text, or as JSON with `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Devices simulated.
    pub devices: u64,
    /// Devices powered on.
    pub devices_started: u64,
    /// Devices that completed at least one session.
    pub devices_informed: u64,
    /// Seconds from the start until every device had completed a session (start-up time).
    pub all_informed_secs: Option<f64>,
    /// Length of the run, or of its measured part after a warm-up.
    pub elapsed_secs: f64,
    /// Sessions opened.
    pub sessions_started: u64,
    /// Sessions that ended successfully.
    pub sessions_ok: u64,
    /// Sessions that failed.
    pub sessions_failed: u64,
    /// Failed sessions by cause.
    pub failed_by_cause: BTreeMap<FailureCause, u64>,
    /// Successful sessions per second over the run (after the warm-up).
    pub sessions_per_sec: f64,
    /// Durations of successful sessions.
    pub latency_ms: Latency,
    /// ACS requests answered.
    pub rpcs_handled: u64,
    /// Connection Requests accepted.
    pub connection_requests: u64,
    /// File transfers that succeeded.
    pub transfers_ok: u64,
    /// File transfers that failed.
    pub transfers_failed: u64,
}

impl Summary {
    /// The summary as text, one fact per line.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "devices: {} ({} started) in {:.1} s",
            self.devices, self.devices_started, self.elapsed_secs
        );
        if let Some(t) = self.all_informed_secs {
            let _ = writeln!(s, "every device informed after {t:.2} s");
        }
        let _ = writeln!(
            s,
            "sessions: {} ok, {} failed, {} started; {:.1} ok/s",
            self.sessions_ok, self.sessions_failed, self.sessions_started, self.sessions_per_sec
        );
        if !self.failed_by_cause.is_empty() {
            let causes: Vec<String> = self
                .failed_by_cause
                .iter()
                .map(|(c, n)| format!("{} {n}", serde_json::to_string(c).unwrap_or_default()))
                .collect();
            let _ = writeln!(s, "failed by cause: {}", causes.join(", ").replace('"', ""));
        }
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "session latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}",
            l.p50, l.p90, l.p99, l.max
        );
        let _ = writeln!(
            s,
            "rpcs handled: {}; connection requests: {}; transfers: {} ok, {} failed",
            self.rpcs_handled, self.connection_requests, self.transfers_ok, self.transfers_failed
        );
        s
    }

    /// A one-line progress report for a terminal: a bar of the devices that have
    /// completed a session, then the live counters.
    pub fn progress_line(&self) -> String {
        const WIDTH: u64 = 20;
        let filled = (self.devices_informed.min(self.devices) * WIDTH)
            .checked_div(self.devices)
            .unwrap_or(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        format!(
            "[{bar}] {}/{} informed  {:>6.1}s  sessions ok {} failed {}  {:.0}/s  p50 {:.1} ms  rpcs {}",
            self.devices_informed,
            self.devices,
            self.elapsed_secs,
            self.sessions_ok,
            self.sessions_failed,
            self.sessions_per_sec,
            self.latency_ms.p50,
            self.rpcs_handled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warmup_is_forgotten_but_the_start_up_is_not() {
        let s = Stats::new();
        s.device_started();
        s.device_informed(Duration::from_secs(2), 1);
        s.session_started();
        s.session_ok(Duration::from_secs(9));
        s.session_failed(FailureCause::Timeout);
        s.rpcs(3);
        s.restart_measurement();
        s.session_started();
        s.session_ok(Duration::from_millis(4));
        let sum = s.summary(1, Duration::from_secs(1));
        assert_eq!((sum.devices_started, sum.devices_informed), (1, 1));
        assert_eq!(sum.all_informed_secs, Some(2.0));
        assert_eq!((sum.sessions_started, sum.sessions_ok), (1, 1));
        assert_eq!((sum.sessions_failed, sum.rpcs_handled), (0, 0));
        assert!(sum.latency_ms.max < 5.0, "{}", sum.latency_ms.max);
    }

    #[test]
    fn summary_counts_and_percentiles() {
        let s = Stats::new();
        for ms in 1..=100u64 {
            s.session_started();
            s.session_ok(Duration::from_millis(ms));
        }
        s.session_failed(FailureCause::of(&SessionError::Timeout));
        s.session_failed(FailureCause::of(&SessionError::Status(503)));
        s.session_failed(FailureCause::of(&SessionError::Status(503)));
        s.rpcs(7);
        let sum = s.summary(3, Duration::from_secs(10));
        assert_eq!(sum.sessions_ok, 100);
        assert_eq!(sum.sessions_failed, 3);
        assert_eq!(sum.failed_by_cause[&FailureCause::Status], 2);
        assert_eq!(sum.failed_by_cause[&FailureCause::Timeout], 1);
        assert!(
            (sum.latency_ms.p50 - 50.0).abs() < 0.1,
            "{}",
            sum.latency_ms.p50
        );
        assert!((sum.latency_ms.p99 - 99.0).abs() < 0.1);
        assert!((sum.sessions_per_sec - 10.0).abs() < 1e-9);
        assert_eq!(sum.rpcs_handled, 7);
        let text = sum.to_text();
        assert!(
            text.contains("failed by cause: timeout 1, status 2"),
            "{text}"
        );
        let json = serde_json::to_value(&sum).unwrap();
        assert_eq!(json["failed_by_cause"]["status"], 2);
        assert_eq!(json["latency_ms"]["p50"], sum.latency_ms.p50);
    }

    #[test]
    fn progress_bar() {
        let s = Stats::new();
        s.device_informed(Duration::from_secs(1), 4);
        let line = s.summary(4, Duration::from_secs(2)).progress_line();
        assert!(
            line.starts_with("[#####---------------] 1/4 informed"),
            "{line}"
        );
    }

    #[test]
    fn empty_summary_has_zero_latency() {
        let sum = Stats::new().summary(0, Duration::ZERO);
        assert_eq!(sum.latency_ms.p99, 0.0);
        assert_eq!(sum.sessions_per_sec, 0.0);
    }
}
