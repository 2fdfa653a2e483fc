//! Memory per simulated device: builds N trees (100,000 by default) from the built-in
//! profile, each with a few changes (a SetParameterValues with its ParameterKey, a
//! Connection Request URL set by the device, a notification attribute), and prints how much
//! the process's resident set grew.
//!
//! ```text
//! cargo run --release -p cpe --example tree_memory [-- N]
//! ```
//!
//! Linux only (reads `VmRSS` from /proc/self/status); elsewhere the RSS lines say so.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use cpe::DataModel;
use cpe::Time;
use cpe::tree::{Template, Tree};
use cwmp::{
    Body, Notification, ParameterValue, ParameterValueStruct, SetParameterAttributes,
    SetParameterAttributesStruct, SetParameterValues,
};

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 100_000,
    };
    let start = Instant::now();
    let template = Arc::new(Template::builtin()?);
    println!(
        "template: {} parameters, {} objects, built in {:?}",
        template.model().params().len(),
        template.model().objects().len(),
        start.elapsed()
    );
    let now = Time(1_700_000_000_000);
    let spv = Body::SetParameterValues(SetParameterValues {
        parameter_list: vec![ParameterValueStruct::new(
            "Device.ManagementServer.PeriodicInformInterval",
            ParameterValue::UnsignedInt(300),
        )],
        parameter_key: Cow::Borrowed("config-1"),
    });
    let spa = Body::SetParameterAttributes(SetParameterAttributes {
        parameter_list: vec![SetParameterAttributesStruct {
            name: Cow::Borrowed("Device.WiFi.SSID.1.SSID"),
            notification_change: true,
            notification: Notification::Passive,
            access_list_change: false,
            access_list: Vec::new(),
        }],
    });

    let before = rss_kib();
    let start = Instant::now();
    let mut trees: Vec<Tree> = Vec::with_capacity(usize::try_from(n)?);
    for i in 0..n {
        let identity = template.identity(i, format!("SIM{i:09}"));
        let mut t = Tree::new(Arc::clone(&template), identity, now);
        t.handle_parameter_rpc(&spv, now);
        t.handle_parameter_rpc(&spa, now);
        let cr = format!(
            "http://10.{}.{}.{}:7547/",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        );
        t.set_management_value(
            "ConnectionRequestURL",
            ParameterValue::String(Cow::Owned(cr)),
            now,
        );
        trees.push(t);
    }
    let built = start.elapsed();
    let after = rss_kib();

    let sample: usize = trees
        .iter()
        .take(1000)
        .map(|t| serde_json::to_string(&t.overlay_state()).map_or(0, |s| s.len()))
        .sum();
    println!("{n} trees built in {built:?}");
    println!("size_of::<Tree>() = {} bytes", size_of::<Tree>());
    match (before, after) {
        (Some(b), Some(a)) => {
            let grown = a.saturating_sub(b);
            println!(
                "RSS {b} KiB -> {a} KiB: +{grown} KiB, {:.0} bytes per device",
                grown as f64 * 1024.0 / n.max(1) as f64
            );
        }
        _ => println!("RSS: /proc/self/status not available"),
    }
    println!(
        "saved state (JSON): {} bytes per device on average",
        sample / trees.len().clamp(1, 1000)
    );
    // Use the trees so that nothing is optimised away.
    let later = now.plus_secs(60);
    let uptimes: u64 = trees
        .iter()
        .filter_map(|t| match t.value("Device.DeviceInfo.UpTime", later) {
            Some(ParameterValue::UnsignedInt(v)) => Some(u64::from(v)),
            _ => None,
        })
        .sum();
    println!("sum of UpTime after a minute: {uptimes}");
    Ok(())
}
