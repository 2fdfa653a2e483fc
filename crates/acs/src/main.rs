//! `acs`: the Auto Configuration Server.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use acs::config::Config;

/// mimalloc instead of the C library's allocator: a session allocates and frees many small
/// buffers across threads (codec, store, the script sandbox, which allocates through Rust's
/// allocator too); see BENCHMARKS.md for what it bought.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "acs",
    version,
    about = "TR-069 (CWMP) Auto Configuration Server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the ACS: the CWMP endpoint and the API.
    Serve {
        /// Configuration file (TOML); without it, defaults and ACS_ variables apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Create or upgrade the store's schema, then exit (`serve` also does it at start).
    Migrate {
        /// Configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Export or import provisioning (presets, provisions, virtual parameters) as files.
    Provisioning {
        #[command(subcommand)]
        command: ProvisioningCommand,
    },
    /// Work with CWMP SOAP envelopes.
    Soap {
        #[command(subcommand)]
        command: acs::soap::SoapCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token and print it (it is shown only this once).
    Create {
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// Configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ProvisioningCommand {
    /// Write every preset, provision and virtual parameter under DIR: presets/NAME.json,
    /// provisions/NAME.js, virtual_parameters/NAME.js (files of items no longer in the
    /// store are removed).
    Export {
        /// The directory (created if needed).
        dir: PathBuf,
        /// Configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check every file under DIR (same layout), then store them all in one transaction;
    /// nothing is written if any file is invalid.
    Import {
        /// The directory.
        dir: PathBuf,
        /// Also delete the presets, provisions and virtual parameters DIR does not hold.
        #[arg(long)]
        replace: bool,
        /// Configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

/// Runs a provisioning command against the configured store.
fn provisioning(command: ProvisioningCommand) -> Result<(), ExitCode> {
    let (config, dir) = match &command {
        ProvisioningCommand::Export { config, dir } => (config.clone(), dir.clone()),
        ProvisioningCommand::Import { config, dir, .. } => (config.clone(), dir.clone()),
    };
    let config = load(config)?;
    runtime()?.block_on(async {
        let store = acs::app::open_store(&config).await.map_err(|e| {
            eprintln!("acs: {e}");
            ExitCode::FAILURE
        })?;
        let (verb, result) = match command {
            ProvisioningCommand::Export { .. } => {
                ("exported", acs::provisioning::export(&store, &dir).await)
            }
            ProvisioningCommand::Import { replace, .. } => (
                "imported",
                acs::provisioning::import(&store, &dir, replace).await,
            ),
        };
        match result {
            Ok(summary) => {
                println!("{verb} {summary}");
                Ok(())
            }
            Err(acs::provisioning::ProvisioningError::Invalid(errors)) => {
                for e in &errors {
                    eprintln!("acs: {}: {}", e.path.display(), e.reason);
                }
                eprintln!("acs: nothing imported ({} invalid files)", errors.len());
                Err(ExitCode::FAILURE)
            }
            Err(e) => {
                eprintln!("acs: {e}");
                Err(ExitCode::FAILURE)
            }
        }
    })
}

fn load(path: Option<PathBuf>) -> Result<Config, ExitCode> {
    Config::load(path.as_deref()).map_err(|e| {
        eprintln!("acs: {e}");
        ExitCode::from(2)
    })
}

/// The runtime of a command; `workers`: its worker threads, tokio's default (one per core)
/// if `None`.
fn runtime_with(workers: Option<usize>) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder.enable_all().build().map_err(|e| {
        eprintln!("acs: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    runtime_with(None)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Soap { command } => return acs::soap::run(command),
        Command::Provisioning { command } => provisioning(command),
        Command::Serve { config } => load(config).and_then(|config| {
            init_logging(&config);
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            runtime_with(Some(config.worker_threads(cores)))?
                .block_on(acs::app::run(config))
                .map_err(|e| {
                    eprintln!("acs: {e}");
                    ExitCode::FAILURE
                })
        }),
        Command::Migrate { config } => load(config).and_then(|config| {
            runtime()?
                .block_on(acs::app::open_store(&config))
                .map(|store| println!("{} schema up to date", store.backend()))
                .map_err(|e| {
                    eprintln!("acs: {e}");
                    ExitCode::FAILURE
                })
        }),
        Command::Token {
            command: TokenCommand::Create { name, config },
        } => load(config).and_then(|config| {
            runtime()?.block_on(async {
                let store = acs::app::open_store(&config).await.map_err(|e| {
                    eprintln!("acs: {e}");
                    ExitCode::FAILURE
                })?;
                let token = acs::tokens::create(&store, &name, acs::cwmp_server::now())
                    .await
                    .map_err(|e| {
                        eprintln!("acs: {e}");
                        ExitCode::FAILURE
                    })?;
                println!("{token}");
                Ok(())
            })
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
