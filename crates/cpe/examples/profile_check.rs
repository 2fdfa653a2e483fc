//! Checks a device profile and/or a BBF data model the way cpe-sim would load them, and
//! prints how long loading took, what the template holds, the definitions inferred from
//! the profile, and the values that do not fit their definitions.
//!
//! ```text
//! cargo run --release -p cpe --example profile_check -- [PROFILE.tsv] [--bbf MODEL-full.xml]
//! ```
//!
//! With neither, the built-in profile is checked.

use std::path::PathBuf;
use std::time::Instant;

use cpe::tree::Template;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut profile: Option<PathBuf> = None;
    let mut bbf: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--bbf" {
            bbf = args.next().map(PathBuf::from);
        } else {
            profile = Some(PathBuf::from(a));
        }
    }
    let start = Instant::now();
    let t = Template::load(profile.as_deref(), bbf.as_deref())?;
    let elapsed = start.elapsed();
    println!(
        "{} ({}): {} objects, {} parameters, loaded in {elapsed:?}",
        t.source(),
        t.model().name(),
        t.model().objects().len(),
        t.model().params().len()
    );
    println!(
        "{} definitions inferred from the profile",
        t.inferred().len()
    );
    if bbf.is_some() {
        for p in t.inferred() {
            println!("  inferred: {p}");
        }
    }
    for w in t.warnings() {
        println!("warning: {w}");
    }
    Ok(())
}
