//! `acs`: the Auto Configuration Server.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod soap;

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
    /// Work with CWMP SOAP envelopes.
    Soap {
        #[command(subcommand)]
        command: soap::SoapCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Soap { command } => soap::run(command),
    }
}
