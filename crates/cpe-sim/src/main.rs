//! `cpe-sim`: simulated CWMP devices — one, or 100,000 in one process — against any ACS.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use cpe::agent::{AgentConfig, GetRpcMethodsPolicy};
use cpe::tree::Template;
use cpe_sim::net::{HttpUrl, RateLimit, TlsClientConfig};
use cpe_sim::quirks::{QUIRKS, QuirkSet};
use cpe_sim::serial::SerialPattern;
use cpe_sim::{Fleet, FleetConfig};
use cwmp::CwmpVersion;

/// Simulated CWMP (TR-069) devices against an ACS.
///
/// Each device has its own serial number, MAC and IP addresses and parameter values, keeps
/// its events until delivered, answers every CPE method, and opens sessions on BOOTSTRAP,
/// BOOT, PERIODIC, Connection Requests, value changes and transfers as TR-069 says.
#[derive(Debug, Parser)]
#[command(name = "cpe-sim", version, max_term_width = 100)]
struct Cli {
    /// The ACS URL (factory value of ManagementServer.URL).
    #[arg(long, default_value = "http://127.0.0.1:7547/")]
    acs_url: String,
    /// ManagementServer.Username (default: the profile's, `OUI-serial` for the built-in one).
    #[arg(long)]
    username: Option<String>,
    /// ManagementServer.Password (or the CPE_SIM_PASSWORD environment variable).
    #[arg(long, env = "CPE_SIM_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Trust this CA (PEM) for https ACS and file URLs, besides Mozilla's roots. Repeatable.
    #[arg(long = "ca-file", value_name = "PEM")]
    ca_files: Vec<PathBuf>,
    /// A BBF full data-model XML (e.g. tr-181-2-17-0-cwmp-full.xml) for definitions.
    #[arg(long, value_name = "XML")]
    data_model: Option<PathBuf>,
    /// A device profile (path, type, writable, value per line) with the factory values.
    /// Neither this nor --data-model: the built-in TR-181 home gateway.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// How many devices.
    #[arg(long, default_value_t = 1)]
    devices: u64,
    /// Index of the first device (serial numbers and addresses derive from it).
    #[arg(long, default_value_t = 0)]
    first_index: u64,
    /// Serial numbers: text with {n} or {n:0W} for the device index.
    #[arg(long, default_value = "SIM{n:08}")]
    serial_pattern: String,
    /// Factory PeriodicInformInterval, seconds.
    #[arg(long, value_name = "SECS")]
    periodic_interval: Option<u32>,
    /// Where the Connection Request listener binds (one for all devices).
    #[arg(long, default_value = "127.0.0.1:7548")]
    cr_listen: SocketAddr,
    /// Host[:port] to put into ConnectionRequestURL (default: the bind address).
    #[arg(long)]
    cr_host: Option<String>,
    /// No Connection Request listener.
    #[arg(long)]
    no_cr: bool,
    /// Connection Requests accepted per device per minute (0: no limit).
    #[arg(long, default_value_t = 5)]
    cr_per_minute: u32,
    /// Keep device state here, so that a restart keeps Reboot, Download and BOOTSTRAP
    /// semantics.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Imitate a field behaviour (repeatable, or comma-separated); see --list-quirks.
    #[arg(long = "quirk", value_name = "NAME")]
    quirks: Vec<String>,
    /// List the quirks and exit.
    #[arg(long)]
    list_quirks: bool,
    /// CWMP versions the devices claim, e.g. 1.0,1.2,1.4.
    #[arg(long, value_delimiter = ',', default_value = "1.0,1.1,1.2,1.3,1.4")]
    cwmp_versions: Vec<String>,
    /// When the devices call GetRPCMethods: never, bootstrap, always.
    #[arg(long, default_value = "bootstrap")]
    get_rpc_methods: String,
    /// Spread power-on over this many seconds (default: devices / 2000, at most 300).
    #[arg(long, value_name = "SECS")]
    ramp_up: Option<f64>,
    /// Cut the power of every device at once after this many seconds (an outage storm:
    /// every device informs 1 BOOT together). SIGUSR1 does it too.
    #[arg(long, value_name = "SECS")]
    outage_storm_after: Option<f64>,
    /// Stop after this many seconds (default: at Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Count sessions, RPCs, failures and latencies only after this many seconds (the
    /// summary's rates are then over the rest of the run; start-up figures are kept).
    #[arg(long, value_name = "SECS")]
    warmup: Option<f64>,
    /// Most sessions in flight at once.
    #[arg(long, default_value_t = 1024)]
    max_sessions: usize,
    /// Seconds a session waits for each answer of the ACS.
    #[arg(long, default_value_t = 30.0)]
    response_timeout: f64,
    /// Seconds a device is off while it reboots.
    #[arg(long, default_value_t = 2.0)]
    reboot_secs: f64,
    /// Seconds a requested diagnostic takes.
    #[arg(long, default_value_t = 1.0)]
    diagnostics_secs: f64,
    /// Source address for sessions and transfers.
    #[arg(long)]
    local_addr: Option<IpAddr>,
    /// Seed of the random choices (jitter, retry waits, diagnostics results).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn secs(v: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{what}: {v} is not a duration"))
}

fn build(cli: &Cli) -> Result<FleetConfig, String> {
    let mut template = Template::load(cli.profile.as_deref(), cli.data_model.as_deref())
        .map_err(|e| e.to_string())?;
    for w in template.warnings() {
        tracing::warn!("{w}");
    }
    let ms = format!("{}ManagementServer.", template.root());
    let mut set = |name: &str, value: &str| {
        template
            .set_factory_value(&format!("{ms}{name}"), value)
            .map_err(|e| format!("cannot set {name}: {e}"))
    };
    HttpUrl::parse(&cli.acs_url).map_err(|e| format!("--acs-url {}: {e}", cli.acs_url))?;
    set("URL", &cli.acs_url)?;
    if let Some(u) = &cli.username {
        set("Username", u)?;
    }
    if let Some(p) = &cli.password {
        set("Password", p)?;
    }
    if let Some(i) = cli.periodic_interval {
        set("PeriodicInformInterval", &i.to_string())?;
    }
    let quirks = QuirkSet::parse(&cli.quirks).map_err(|e| e.to_string())?;
    let versions = cli
        .cwmp_versions
        .iter()
        .map(|v| {
            v.trim()
                .parse::<CwmpVersion>()
                .map_err(|_| format!("--cwmp-versions: {v:?} is not a CWMP version like 1.4"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let get_rpc_methods = match cli.get_rpc_methods.as_str() {
        "never" => GetRpcMethodsPolicy::Never,
        "bootstrap" => GetRpcMethodsPolicy::OnBootstrap,
        "always" => GetRpcMethodsPolicy::EverySession,
        other => {
            return Err(format!(
                "--get-rpc-methods: {other:?}: never, bootstrap or always"
            ));
        }
    };
    let tls = if cli.ca_files.is_empty() {
        None
    } else {
        let mut b = TlsClientConfig::builder();
        for f in &cli.ca_files {
            b = b
                .add_ca_pem_file(f)
                .map_err(|e| format!("{}: {e}", f.display()))?;
        }
        Some(b.build().map_err(|e| e.to_string())?)
    };
    let ramp = cli
        .ramp_up
        .unwrap_or_else(|| (cli.devices as f64 / 2000.0).min(300.0));
    let mut config = FleetConfig::new(Arc::new(template));
    config.devices = cli.devices;
    config.first_index = cli.first_index;
    config.serial_pattern = SerialPattern::parse(&cli.serial_pattern).map_err(|e| e.to_string())?;
    config.agent = AgentConfig {
        versions,
        get_rpc_methods,
        quirks: quirks.agent.clone(),
        reboot_duration: secs(cli.reboot_secs, "reboot-secs")?,
        diagnostics_duration: secs(cli.diagnostics_secs, "diagnostics-secs")?,
        seed: cli.seed,
    };
    config.quirks = quirks;
    config.tls = tls;
    config.cr_listen = (!cli.no_cr).then_some(cli.cr_listen);
    config.cr_host = cli.cr_host.clone();
    config.cr_rate_limit = (cli.cr_per_minute > 0).then_some(RateLimit {
        max_requests: cli.cr_per_minute,
        per: Duration::from_secs(60),
    });
    config.state_dir = cli.state_dir.clone();
    config.ramp_up = secs(ramp, "ramp-up")?;
    config.max_sessions = cli.max_sessions;
    config.response_timeout = secs(cli.response_timeout, "response-timeout")?;
    config.local_addr = cli.local_addr;
    config.seed = cli.seed;
    Ok(config)
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn storm_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut s) = signal(SignalKind::user_defined1()) {
            s.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = build(&cli)?;
    // Checked before anything starts: a duration that is not one is an error, not a panic.
    let duration = cli.duration.map(|s| secs(s, "duration")).transpose()?;
    let storm_after = cli
        .outage_storm_after
        .map(|s| secs(s, "outage-storm-after"))
        .transpose()?;
    let warmup = cli.warmup.map(|s| secs(s, "warmup")).transpose()?;
    let started = std::time::Instant::now();
    let mut fleet = Fleet::start(config).await.map_err(|e| e.to_string())?;
    let devices = cli.devices;
    if let Some(addr) = fleet.cr_addr() {
        tracing::info!(%addr, "connection request listener");
    }
    tracing::info!(
        devices,
        secs = started.elapsed().as_secs_f64(),
        "devices created"
    );
    let tty = !cli.quiet && std::io::stderr().is_terminal();
    let stop = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    let mut storm_at = storm_after.map(|d| tokio::time::Instant::now() + d);
    let mut warmup_until = warmup.map(|d| tokio::time::Instant::now() + d);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let term = terminated();
    tokio::pin!(term);
    let usr1 = storm_signal();
    tokio::pin!(usr1);
    loop {
        let storm = async {
            match storm_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let warmup = async {
            match warmup_until {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => break,
            () = &mut term => break,
            () = warmup => {
                warmup_until = None;
                tracing::info!("warm-up over: counting from now");
                fleet.end_warmup();
            }
            () = storm => {
                storm_at = None;
                tracing::info!("outage storm: every device loses power");
                fleet.outage_storm();
            }
            () = &mut usr1 => {
                usr1.set(storm_signal());
                fleet.outage_storm();
            }
            _ = tick.tick() => {
                if tty {
                    eprint!("\r{}\x1b[K", fleet.summary().progress_line());
                }
            }
        }
    }
    if tty {
        eprintln!();
    }
    let summary = fleet.shutdown().await;
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if cli.list_quirks {
        for (name, what) in QUIRKS {
            println!("{name:28} {what}");
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cpe-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cpe-sim: {e}");
            ExitCode::from(2)
        }
    }
}
