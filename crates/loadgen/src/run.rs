//! Runs sessions from `concurrency` workers, measures them after the warm-up, and reports.
//!
//! Measurement window: from the end of the warm-up to the end of `--duration`, or to the
//! completion of the `--sessions`-th session started after the warm-up. A session counts if
//! it completes inside the window (duration mode) or was started after the warm-up
//! (sessions mode). Sessions still running when the window closes get a short grace period
//! to finish uncounted, then are abandoned. CPU time of the generator (and of the server with
//! `server_pid`) is sampled at both ends of the window.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use crate::inform::{InformTemplate, Vars};
use crate::procstat::{self, Memory, Pid};
use crate::session::{AuthMode, Outcome, SessionConfig, run_session};

/// When the measurement stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// After this long (after the warm-up).
    Duration(Duration),
    /// After this many sessions (started after the warm-up) have completed.
    Sessions(u64),
}

/// A load run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL, for the report.
    pub url: String,
    /// Per-session settings.
    pub session: SessionConfig,
    /// Sessions in flight.
    pub concurrency: usize,
    /// Distinct devices, used round robin.
    pub devices: u32,
    /// Parameters per Inform.
    pub parameters: usize,
    /// Unmeasured time before the window.
    pub warmup: Duration,
    /// End of the window.
    pub limit: Limit,
    /// Target session starts per second, if throttled.
    pub rate: Option<f64>,
    /// Processes whose CPU time and memory to report, summed (the server, or each node of
    /// it).
    pub server_pids: Vec<u32>,
    /// How long sessions still running at the end may take to finish (uncounted).
    pub grace: Duration,
}

/// A point in time with the CPU clocks read then.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    own_cpu: Option<Duration>,
    server_cpu: Option<Duration>,
}

impl Mark {
    fn now(server_pids: &[u32]) -> Mark {
        let server_cpu = if server_pids.is_empty() {
            None
        } else {
            server_pids
                .iter()
                .map(|p| procstat::cpu_time(Pid::Other(*p)))
                .sum::<Option<Duration>>()
        };
        Mark {
            at: Instant::now(),
            own_cpu: procstat::cpu_time(Pid::SelfProcess),
            server_cpu,
        }
    }
}

struct Shared {
    cfg: Config,
    template: InformTemplate,
    start: Instant,
    t0: Instant,
    unix_start: i64,
    next_session: AtomicU64,
    next_slot: AtomicU64,
    tickets: AtomicU64,
    completed: AtomicU64,
    stopped: AtomicBool,
    stop_tx: watch::Sender<bool>,
    begin: Mutex<Option<Mark>>,
    end: Mutex<Option<Mark>>,
}

impl Shared {
    fn t1(&self) -> Option<Instant> {
        match self.cfg.limit {
            Limit::Duration(d) => Some(self.t0 + d),
            Limit::Sessions(_) => None,
        }
    }

    /// Closes the window (the first call wins) and tells everyone.
    fn stop(&self) {
        let mark = Mark::now(&self.cfg.server_pids);
        if let Ok(mut end) = self.end.lock() {
            end.get_or_insert(mark);
        }
        self.stopped.store(true, Ordering::SeqCst);
        self.stop_tx.send_replace(true);
    }

    fn set_begin(&self) {
        let mark = Mark::now(&self.cfg.server_pids);
        if let Ok(mut begin) = self.begin.lock() {
            begin.get_or_insert(mark);
        }
    }
}

/// Counters of one worker, merged at the end.
#[derive(Debug, Default)]
struct Stats {
    ok: u64,
    failures: BTreeMap<String, u64>,
    latencies_us: Vec<u32>,
    exchanges: BTreeMap<u32, u64>,
    connections: u64,
    challenges: u64,
    without_cookie: u64,
    acs_requests: BTreeMap<&'static str, u64>,
    unmeasured: u64,
}

impl Stats {
    fn record(&mut self, outcome: Outcome, took: Duration) {
        self.connections += u64::from(outcome.connections);
        self.challenges += u64::from(outcome.challenges);
        for name in outcome.acs_requests {
            *self.acs_requests.entry(name).or_default() += 1;
        }
        match outcome.failure {
            None => {
                self.ok += 1;
                self.latencies_us
                    .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                *self.exchanges.entry(outcome.exchanges).or_default() += 1;
                self.without_cookie += u64::from(!outcome.cookie);
            }
            Some(failure) => *self.failures.entry(failure.to_string()).or_default() += 1,
        }
    }

    fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        for (k, v) in other.failures {
            *self.failures.entry(k).or_default() += v;
        }
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.exchanges {
            *self.exchanges.entry(k).or_default() += v;
        }
        self.connections += other.connections;
        self.challenges += other.challenges;
        self.without_cookie += other.without_cookie;
        for (k, v) in other.acs_requests {
            *self.acs_requests.entry(k).or_default() += v;
        }
        self.unmeasured += other.unmeasured;
    }
}

async fn worker(shared: Arc<Shared>, mut abort: watch::Receiver<bool>) -> Stats {
    let cfg = &shared.cfg;
    let mut stats = Stats::default();
    let devices = u64::from(cfg.devices.max(1));
    loop {
        if shared.stopped.load(Ordering::Relaxed) {
            break;
        }
        if let Some(rate) = cfg.rate {
            let slot = shared.next_slot.fetch_add(1, Ordering::Relaxed);
            let at = shared.start + Duration::from_secs_f64(slot as f64 / rate);
            if at > Instant::now() {
                tokio::select! {
                    _ = sleep_until(at) => {}
                    _ = abort.wait_for(|a| *a) => break,
                }
            }
            if shared.stopped.load(Ordering::Relaxed) {
                break;
            }
        }
        let began = Instant::now();
        if shared.t1().is_some_and(|t1| began >= t1) {
            break;
        }
        let ticket = match cfg.limit {
            Limit::Sessions(n) if began >= shared.t0 => {
                if shared.tickets.fetch_add(1, Ordering::Relaxed) >= n {
                    break;
                }
                true
            }
            _ => false,
        };
        let seq = shared.next_session.fetch_add(1, Ordering::Relaxed);
        let elapsed = began.duration_since(shared.start).as_secs();
        let vars = Vars {
            device: (seq % devices) as u32,
            round: seq / devices,
            session: seq,
            now: shared.unix_start + elapsed as i64,
            elapsed: u32::try_from(elapsed).unwrap_or(u32::MAX),
        };
        let outcome = tokio::select! {
            outcome = run_session(&cfg.session, &shared.template, &vars) => outcome,
            _ = abort.wait_for(|a| *a) => break,
        };
        let ended = Instant::now();
        let in_window = match shared.t1() {
            Some(t1) => ended >= shared.t0 && ended <= t1,
            None => ticket,
        };
        if in_window && !shared.stopped.load(Ordering::Relaxed) {
            stats.record(outcome, ended - began);
        } else {
            stats.unmeasured += 1;
        }
        if let (true, Limit::Sessions(n)) = (ticket, cfg.limit)
            && shared.completed.fetch_add(1, Ordering::Relaxed) + 1 == n
        {
            shared.stop();
        }
    }
    stats
}

/// Latency percentiles of successful sessions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
    /// Mean.
    pub mean: Duration,
}

impl Latency {
    /// Nearest-rank percentiles of `micros` (sorted here).
    pub fn from_micros(micros: &mut [u32]) -> Option<Latency> {
        if micros.is_empty() {
            return None;
        }
        micros.sort_unstable();
        let n = micros.len();
        let at = |q: f64| {
            let rank = (q * n as f64).ceil() as usize;
            Duration::from_micros(u64::from(micros[rank.clamp(1, n) - 1]))
        };
        let sum: u64 = micros.iter().map(|&m| u64::from(m)).sum();
        Some(Latency {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
            mean: Duration::from_micros(sum / n as u64),
        })
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was run.
    pub config: Config,
    /// Size of the first Inform, bytes.
    pub inform_bytes: usize,
    /// Length of the measurement window.
    pub elapsed: Duration,
    /// Successful sessions in the window.
    pub ok: u64,
    /// Failed sessions in the window, by cause.
    pub failures: BTreeMap<String, u64>,
    /// Latency of successful sessions.
    pub latency: Option<Latency>,
    /// Successful sessions by number of HTTP exchanges.
    pub exchanges: BTreeMap<u32, u64>,
    /// TCP connections opened by the sessions in the window.
    pub connections: u64,
    /// Digest challenges answered in the window.
    pub challenges: u64,
    /// Successful sessions whose InformResponse had no `Set-Cookie`.
    pub without_cookie: u64,
    /// Methods the ACS called after the empty POST.
    pub acs_requests: BTreeMap<&'static str, u64>,
    /// Sessions run outside the window (warm-up, or finishing after it).
    pub unmeasured: u64,
    /// The generator's CPU time in the window.
    pub own_cpu: Option<Duration>,
    /// The server's CPU time in the window.
    pub server_cpu: Option<Duration>,
    /// The server's memory at the end.
    pub server_memory: Option<Memory>,
    /// The generator's memory at the end.
    pub own_memory: Option<Memory>,
}

/// A run that could not start.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs the load described by `cfg` (inside a Tokio runtime) and reports.
pub async fn run(cfg: Config) -> Result<Report, Error> {
    if cfg.concurrency == 0 || cfg.devices == 0 {
        return Err("concurrency and devices must be at least 1".into());
    }
    if cfg.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("rate must be a positive number".into());
    }
    let template = InformTemplate::new(cfg.parameters)?;
    let inform_bytes = template
        .render(&Vars {
            device: 0,
            round: 0,
            session: 0,
            now: 0,
            elapsed: 0,
        })
        .len();
    let start = Instant::now();
    let unix_start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let (abort_tx, abort_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        t0: start + cfg.warmup,
        cfg,
        template,
        start,
        unix_start,
        next_session: AtomicU64::new(0),
        next_slot: AtomicU64::new(0),
        tickets: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        stopped: AtomicBool::new(false),
        stop_tx,
        begin: Mutex::new(None),
        end: Mutex::new(None),
    });

    // Window boundaries.
    let mut timers = Vec::new();
    if shared.cfg.warmup.is_zero() {
        shared.set_begin();
    } else {
        let s = Arc::clone(&shared);
        timers.push(tokio::spawn(async move {
            sleep_until(s.t0).await;
            s.set_begin();
        }));
    }
    if let Some(t1) = shared.t1() {
        let s = Arc::clone(&shared);
        timers.push(tokio::spawn(async move {
            sleep_until(t1).await;
            s.stop();
        }));
    }
    {
        let s = Arc::clone(&shared);
        timers.push(tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("acs-loadgen: interrupted, reporting what was measured");
                s.stop();
            }
        }));
    }
    let grace = shared.cfg.grace;
    let aborter = tokio::spawn(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
        sleep(grace).await;
        abort_tx.send_replace(true);
    });

    let workers: Vec<_> = (0..shared.cfg.concurrency)
        .map(|_| tokio::spawn(worker(Arc::clone(&shared), abort_rx.clone())))
        .collect();
    let mut stats = Stats::default();
    for w in workers {
        stats.merge(w.await?);
    }
    // Every worker has stopped: the window is closed if nothing closed it before.
    shared.stop();
    for t in timers {
        t.abort();
    }
    aborter.abort();

    let begin = shared.begin.lock().ok().and_then(|b| *b);
    let end = shared.end.lock().ok().and_then(|e| *e);
    let (begin, end) = match (begin, end) {
        (Some(b), Some(e)) => (b, e),
        // Stopped (interrupted) during the warm-up: nothing was measured.
        _ => {
            let now = Mark::now(&shared.cfg.server_pids);
            (now, now)
        }
    };
    let cpu = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
    let latency = Latency::from_micros(&mut stats.latencies_us);
    Ok(Report {
        config: shared.cfg.clone(),
        inform_bytes,
        elapsed: end.at.saturating_duration_since(begin.at),
        ok: stats.ok,
        failures: stats.failures,
        latency,
        exchanges: stats.exchanges,
        connections: stats.connections,
        challenges: stats.challenges,
        without_cookie: stats.without_cookie,
        acs_requests: stats.acs_requests,
        unmeasured: stats.unmeasured,
        own_cpu: cpu(begin.own_cpu, end.own_cpu),
        server_cpu: cpu(begin.server_cpu, end.server_cpu),
        server_memory: if shared.cfg.server_pids.is_empty() {
            None
        } else {
            shared
                .cfg
                .server_pids
                .iter()
                .map(|p| procstat::memory(Pid::Other(*p)))
                .try_fold(Memory::default(), |sum, m| {
                    let m = m?;
                    Some(Memory {
                        peak_rss_kb: sum.peak_rss_kb + m.peak_rss_kb,
                        rss_kb: sum.rss_kb + m.rss_kb,
                    })
                })
        },
        own_memory: procstat::memory(Pid::SelfProcess),
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Report {
    /// Sessions that failed in the window.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Successful sessions per second.
    pub fn sessions_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    fn measured(&self) -> u64 {
        self.ok + self.failed()
    }

    /// Mean HTTP exchanges per successful session.
    pub fn exchanges_per_session(&self) -> f64 {
        let total: u64 = self.exchanges.iter().map(|(&k, &v)| u64::from(k) * v).sum();
        if self.ok > 0 {
            total as f64 / self.ok as f64
        } else {
            0.0
        }
    }

    /// CPU milliseconds per session of a process, over all sessions in the window.
    fn cpu_ms_per_session(&self, cpu: Option<Duration>) -> Option<f64> {
        let n = self.measured();
        cpu.filter(|_| n > 0)
            .map(|c| c.as_secs_f64() * 1e3 / n as f64)
    }

    /// CPU used as a share of one core over the window.
    fn cpu_share(&self, cpu: Option<Duration>) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        cpu.filter(|_| secs > 0.0).map(|c| c.as_secs_f64() / secs)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let c = &self.config;
        let auth = match c.session.auth {
            AuthMode::None => "none",
            AuthMode::Basic => "basic",
            AuthMode::Digest => "digest",
        };
        let (limit_kind, limit_value) = match c.limit {
            Limit::Duration(d) => ("duration_s", json!(d.as_secs_f64())),
            Limit::Sessions(n) => ("sessions", json!(n)),
        };
        let latency = self.latency.map(|l| {
            json!({
                "p50_ms": ms(l.p50), "p90_ms": ms(l.p90), "p99_ms": ms(l.p99),
                "max_ms": ms(l.max), "mean_ms": ms(l.mean),
            })
        });
        let exchanges: serde_json::Map<String, serde_json::Value> = self
            .exchanges
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let mem = |m: Option<Memory>| {
            m.map(|m| json!({"peak_rss_kb": m.peak_rss_kb, "rss_kb": m.rss_kb}))
        };
        let cpu = |cpu: Option<Duration>| {
            cpu.map(|d| {
                json!({
                    "seconds": d.as_secs_f64(),
                    "share_of_one_core": self.cpu_share(Some(d)),
                    "ms_per_session": self.cpu_ms_per_session(Some(d)),
                })
            })
        };
        json!({
            "url": c.url,
            "concurrency": c.concurrency,
            "devices": c.devices,
            "parameters": c.parameters,
            "inform_bytes": self.inform_bytes,
            "auth": auth,
            "rate": c.rate,
            "warmup_s": c.warmup.as_secs_f64(),
            limit_kind: limit_value,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "sessions_ok": self.ok,
            "sessions_failed": self.failed(),
            "failures": self.failures,
            "sessions_per_s": self.sessions_per_sec(),
            "latency": latency,
            "exchanges_per_session": self.exchanges_per_session(),
            "exchanges": exchanges,
            "connections_per_session": if self.measured() > 0 {
                self.connections as f64 / self.measured() as f64 } else { 0.0 },
            "digest_challenges": self.challenges,
            "sessions_without_cookie": self.without_cookie,
            "acs_requests": self.acs_requests,
            "sessions_unmeasured": self.unmeasured,
            "loadgen_cpu": cpu(self.own_cpu),
            "loadgen_memory": mem(self.own_memory),
            "server_pids": c.server_pids,
            "server_cpu": cpu(self.server_cpu),
            "server_memory": mem(self.server_memory),
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let auth = match c.session.auth {
            AuthMode::None => "none",
            AuthMode::Basic => "basic",
            AuthMode::Digest => "digest",
        };
        writeln!(
            f,
            "target        {}  concurrency {}  devices {}  parameters {} ({} B Inform)  auth {}{}",
            c.url,
            c.concurrency,
            c.devices,
            c.parameters,
            self.inform_bytes,
            auth,
            c.rate.map(|r| format!("  rate {r}/s")).unwrap_or_default(),
        )?;
        writeln!(
            f,
            "window        {:.2} s after {:.1} s warm-up ({} sessions outside it not counted)",
            self.elapsed.as_secs_f64(),
            c.warmup.as_secs_f64(),
            self.unmeasured
        )?;
        writeln!(
            f,
            "sessions ok   {}  ({:.1}/s)",
            self.ok,
            self.sessions_per_sec()
        )?;
        let mut failed = format!("{}", self.failed());
        for (i, (cause, n)) in self.failures.iter().enumerate() {
            let _ = write!(failed, "{} {cause}: {n}", if i == 0 { " —" } else { "," });
        }
        writeln!(f, "failed        {failed}")?;
        if let Some(l) = self.latency {
            writeln!(
                f,
                "latency ms    p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.max),
                ms(l.mean)
            )?;
        }
        let hist: Vec<String> = self
            .exchanges
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        writeln!(
            f,
            "exchanges     {:.2}/session ({})  connections {:.2}/session  digest challenges {}  \
             without cookie {}",
            self.exchanges_per_session(),
            hist.join(", "),
            if self.measured() > 0 {
                self.connections as f64 / self.measured() as f64
            } else {
                0.0
            },
            self.challenges,
            self.without_cookie,
        )?;
        if !self.acs_requests.is_empty() {
            let r: Vec<String> = self
                .acs_requests
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(f, "ACS requests  {}", r.join(", "))?;
        }
        let cpu_line = |cpu: Option<Duration>| -> String {
            match cpu {
                Some(d) => format!(
                    "{:.2} s ({:.0}% of one core, {:.3} ms/session)",
                    d.as_secs_f64(),
                    self.cpu_share(Some(d)).unwrap_or(0.0) * 100.0,
                    self.cpu_ms_per_session(Some(d)).unwrap_or(0.0)
                ),
                None => "unknown".to_owned(),
            }
        };
        let rss = |m: Option<Memory>| {
            m.map_or("unknown".to_owned(), |m| {
                format!("{:.1} MB", m.peak_rss_kb as f64 / 1024.0)
            })
        };
        writeln!(
            f,
            "loadgen CPU   {}, peak RSS {}",
            cpu_line(self.own_cpu),
            rss(self.own_memory)
        )?;
        if !c.server_pids.is_empty() {
            writeln!(
                f,
                "server CPU    {} (pids {:?}), peak RSS {}",
                cpu_line(self.server_cpu),
                c.server_pids,
                rss(self.server_memory)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u32> = (1..=1000).rev().collect();
        let l = Latency::from_micros(&mut v).unwrap();
        assert_eq!(l.p50, Duration::from_micros(500));
        assert_eq!(l.p90, Duration::from_micros(900));
        assert_eq!(l.p99, Duration::from_micros(990));
        assert_eq!(l.max, Duration::from_micros(1000));
        assert_eq!(
            Latency::from_micros(&mut [7]).unwrap().p50,
            Duration::from_micros(7)
        );
        assert!(Latency::from_micros(&mut []).is_none());
    }
}
