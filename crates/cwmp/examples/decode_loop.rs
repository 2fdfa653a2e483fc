//! Decodes one of the benchmark messages N times: a fixed workload for instruction
//! counts under `valgrind --tool=callgrind`, which, unlike wall-clock time, do not
//! depend on what else the machine is doing (`bench/instructions.sh`).
//!
//! `cargo run --release -p cwmp --example decode_loop -- inform_20|gpv_response_500 N`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../benches/support/messages.rs"]
mod messages;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "gpv_response_500".into());
    let n: usize = args.next().map_or(100, |s| s.parse().expect("a count"));
    let envelope = match which.as_str() {
        "inform_20" => messages::inform_20(),
        "gpv_response_500" => messages::gpv_500(),
        other => panic!("unknown message {other}"),
    };
    let xml = envelope.encode().expect("valid envelope");
    let mut checksum = 0usize;
    for _ in 0..n {
        let decoded = cwmp::decode(std::hint::black_box(xml.as_bytes())).expect("decodes");
        checksum += decoded.header.id.map_or(0, |id| id.len());
    }
    println!(
        "{which}: {} bytes, {n} decodes, checksum {checksum}",
        xml.len()
    );
}
