//! `acs-baseline`: a minimal HTTP server answering CWMP sessions with fixed bytes (see
//! `loadgen::baseline`), the reference `bench/sessions.sh` compares the ACS with.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// Answers any non-empty POST with a canned InformResponse (200, text/xml, Set-Cookie) and an
/// empty POST with 204, parsing nothing: the ceiling for the ACS's session rate.
#[derive(Debug, Parser)]
#[command(name = "acs-baseline", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7547")]
    listen: SocketAddr,
    /// Runtime worker threads (0: one per CPU).
    #[arg(long, default_value_t = 0)]
    threads: usize,
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
            eprintln!("acs-baseline: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("acs-baseline: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(addr) => println!("acs-baseline listening on {addr}"),
            Err(_) => println!("acs-baseline listening on {}", args.listen),
        }
        tokio::select! {
            () = loadgen::baseline::serve(listener) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        ExitCode::SUCCESS
    })
}
