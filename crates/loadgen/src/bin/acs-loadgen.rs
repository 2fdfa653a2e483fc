//! `acs-loadgen`: drives an ACS with CWMP sessions as CPEs run them, each on a new TCP
//! connection, and reports sessions/s, latency of whole sessions, failures by cause,
//! exchanges per session and CPU (see `loadgen::run`).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use http::header::HeaderValue;
use loadgen::run::{Config, Limit, Report, run};
use loadgen::session::{AuthMode, SessionConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Auth {
    /// No credentials.
    None,
    /// Answer Digest challenges (MD5 preferred), on the same connection.
    Digest,
    /// Send Basic credentials pre-emptively.
    Basic,
}

/// Runs periodic-Inform CWMP sessions against an ACS: POST Inform -> 200 InformResponse ->
/// empty POST -> 204, each session on a new TCP connection.
#[derive(Debug, Parser)]
#[command(name = "acs-loadgen", version)]
struct Args {
    /// The ACS URL (ManagementServer.URL); plain http only.
    #[arg(long, default_value = "http://127.0.0.1:7547/")]
    url: String,
    /// Another node of the same ACS (repeatable): sessions go to --url and these in turn,
    /// as a round-robin load balancer would send them.
    #[arg(long)]
    also_url: Vec<String>,
    /// Sessions in flight at once.
    #[arg(long, short = 'c', default_value_t = 64)]
    concurrency: usize,
    /// Seconds to measure, after the warm-up (default 10 unless --sessions is given).
    #[arg(long, conflicts_with = "sessions")]
    duration: Option<f64>,
    /// Sessions to measure, after the warm-up.
    #[arg(long)]
    sessions: Option<u64>,
    /// Seconds of unmeasured load first.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Target session starts per second, on a fixed schedule from the start (default: as fast
    /// as the concurrency allows). Starts whose time has passed happen as soon as one of the
    /// --concurrency workers is free, so an ACS that stalls gets a burst after it.
    #[arg(long)]
    rate: Option<f64>,
    /// Distinct devices (serials LG00000001...), used round robin.
    #[arg(long, default_value_t = 10_000)]
    devices: u32,
    /// Parameters in each Inform.
    #[arg(long, default_value_t = 20)]
    parameters: usize,
    /// Authentication.
    #[arg(long, value_enum, default_value_t = Auth::None)]
    auth: Auth,
    /// Username (default: each device's own OUI-ProductClass-SerialNumber).
    #[arg(long)]
    username: Option<String>,
    /// Password.
    #[arg(long, default_value = "")]
    password: String,
    /// Seconds a whole session may take before it fails with a timeout.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Most HTTP exchanges in one session.
    #[arg(long, default_value_t = 16)]
    max_exchanges: u32,
    /// Connect from this many loopback source addresses (127.0.0.1 to 127.0.0.N, round
    /// robin) when the ACS is on a loopback address, so that TIME_WAIT sockets do not exhaust
    /// the ephemeral ports of one address; 1: let the kernel choose.
    #[arg(long, default_value_t = 16)]
    source_addrs: u32,
    /// Seconds that sessions still running when the window closes get to finish.
    #[arg(long, default_value_t = 2.0)]
    grace: f64,
    /// Process id of the server, to report its CPU time and its memory; repeated for
    /// several nodes (summed).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Worker threads of the (multi-threaded) runtime; 0 means one per CPU. One thread
    /// drives 64 sessions at the baseline's full rate on a 2-core machine, and a second one
    /// only adds CPU time (cross-thread wakeups) that the server then lacks.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

fn secs(name: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{name} must be a non-negative number"))
}

async fn config(args: &Args) -> Result<Config, String> {
    let uri: http::Uri = args
        .url
        .parse()
        .map_err(|e| format!("--url {}: {e}", args.url))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "--url {}: only http:// URLs are supported",
            args.url
        ));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("--url {}: no host", args.url))?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((authority.host().trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("--url {}: {e}", args.url))?
        .next()
        .ok_or_else(|| format!("--url {}: host has no address", args.url))?;
    let host = HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?;
    let mut also = Vec::new();
    for url in &args.also_url {
        let uri: http::Uri = url.parse().map_err(|e| format!("--also-url {url}: {e}"))?;
        let authority = uri
            .authority()
            .filter(|_| uri.scheme_str() == Some("http"))
            .ok_or_else(|| format!("--also-url {url}: not an http:// URL with a host"))?;
        let port = authority.port_u16().unwrap_or(80);
        also.push(
            tokio::net::lookup_host((authority.host().trim_matches(['[', ']']), port))
                .await
                .map_err(|e| format!("--also-url {url}: {e}"))?
                .next()
                .ok_or_else(|| format!("--also-url {url}: host has no address"))?,
        );
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let limit = match (args.duration, args.sessions) {
        (_, Some(n)) => Limit::Sessions(n),
        (Some(d), None) => Limit::Duration(secs("duration", d)?),
        (None, None) => Limit::Duration(Duration::from_secs(10)),
    };
    if args.auth != Auth::None && args.password.is_empty() {
        return Err("--auth digest|basic needs --password".into());
    }
    if args.devices < u32::try_from(args.concurrency).unwrap_or(u32::MAX) {
        eprintln!(
            "acs-loadgen: warning: fewer devices ({}) than concurrent sessions ({}): one device \
             may be in two sessions at once",
            args.devices, args.concurrency
        );
    }
    Ok(Config {
        url: args.url.clone(),
        session: SessionConfig {
            addr,
            also,
            host,
            path,
            auth: match args.auth {
                Auth::None => AuthMode::None,
                Auth::Digest => AuthMode::Digest,
                Auth::Basic => AuthMode::Basic,
            },
            username: args.username.clone(),
            password: args.password.clone(),
            timeout: secs("timeout", args.timeout)?,
            max_exchanges: args.max_exchanges.max(2),
            source_addrs: args.source_addrs,
        },
        concurrency: args.concurrency,
        devices: args.devices,
        parameters: args.parameters,
        warmup: secs("warmup", args.warmup)?,
        limit,
        rate: args.rate,
        server_pids: args.server_pid.clone(),
        grace: secs("grace", args.grace)?,
    })
}

async fn main_async(args: Args) -> Result<Report, String> {
    let cfg = config(&args).await?;
    run(cfg).await.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if args.threads > 0 {
        builder.worker_threads(args.threads);
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("acs-loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = args.json;
    match runtime.block_on(main_async(args)) {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{report}");
            }
            // Failures are in the report; the status only says whether any session succeeded.
            if report.ok > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("acs-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
