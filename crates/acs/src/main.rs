//! `acs`: the Auto Configuration Server.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use acs::config::Config;
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

fn load(path: Option<PathBuf>) -> Result<Config, ExitCode> {
    Config::load(path.as_deref()).map_err(|e| {
        eprintln!("acs: {e}");
        ExitCode::from(2)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("acs: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
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
        Command::Serve { config } => load(config).and_then(|config| {
            init_logging(&config);
            runtime()?.block_on(acs::app::run(config)).map_err(|e| {
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
