//! `cpe-sim`: simulated CWMP devices.

fn main() {
    println!("cpe-sim: not built yet");
}
