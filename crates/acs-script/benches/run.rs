//! What a script costs a CWMP session.
//!
//! The product goal: three presets' scripts and a 20-line provision under 100 µs of CPU
//! per session, all included. Benchmarks:
//!
//! - `run/provision_20_lines`: a 20-line provision (declares, a loop over a wildcard,
//!   string work, `Date.now(interval)`, `Math.random`, a commit that continues, a log)
//!   in a warm sandbox, against a host that answers from a small table;
//! - `run/preset_*`: three short preset provisions of the usual kinds (GenieACS-style
//!   hourly refresh, connection-request credentials, a tag set from the arguments);
//! - `run/session_3_presets_and_provision`: the four in a row, the per-session figure;
//! - `isolation/*`: what isolating runs by a fresh QuickJS context would cost instead of
//!   the hardened reused one (a bare standard context, and a whole new sandbox with its
//!   prelude) — the reason `sandbox.rs` reuses its context;
//! - `compile/*`: `Script::new` (the syntax check, once per script version) and a cache
//!   miss (compiling in the sandbox, once per script and sandbox);
//! - `cpu/*`: an empty script (a run's fixed cost), the session and the provision again, the "time" being CPU time of the
//!   benchmarking thread rather than wall time (Linux `/proc/thread-self/schedstat`), so
//!   that the figure holds on a machine shared with other work, as the 2-core machines
//!   of this project are.
//!
//! Run: `cargo bench -p acs-script --bench run`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use acs_script::{ExtAnswer, Flow, Host, Instance, Limits, Outcome, RunEnv, Sandbox, Script};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

const PROVISION: &str = r#"const now = Date.now();
const hourly = Date.now(3600000);
const model = declare("DeviceID.ProductClass", {value: 1}).value[0];
const serial = declare("DeviceID.SerialNumber", {value: 1}).value[0];
const prefix = model.toUpperCase().startsWith("HG") ? "home" : "office";
const ssid = `${prefix}-${serial.slice(-6)}`;
declare("Device.WiFi.SSID.1.SSID", {value: hourly}, {value: ssid});
let enabled = 0;
for (const p of declare("Device.WiFi.SSID.*.Enable", {value: hourly})) {
  if (p.value[0]) enabled++;
}
for (let i = 1; i <= 4; i++) {
  declare(`Device.WiFi.AccessPoint.${i}.SSIDAdvertisementEnabled`, {value: hourly}, {value: i === 1});
}
const tags = ["provisioned", model.toLowerCase().replace(/[^a-z0-9]/g, "_")];
for (const t of tags) declare(`Tags.${t}`, null, {value: true});
const interval = 300 + Math.floor(Math.random() * 60);
declare("Device.ManagementServer.PeriodicInformInterval", {value: hourly}, {value: interval});
commit();
log(`provisioned ${serial} (${enabled} SSIDs enabled) at ${now}`);
"#;

const PRESET_REFRESH: &str = r#"const hourly = Date.now(3600000);
declare("Device.DeviceInfo.HardwareVersion", {path: hourly, value: hourly});
declare("Device.DeviceInfo.SoftwareVersion", {path: hourly, value: hourly});
declare("Device.IP.Interface.*.IPv4Address.*.IPAddress", {path: hourly, value: hourly});
declare("Device.WiFi.SSID.*.SSID", {path: hourly, value: hourly});
declare("Device.Hosts.Host.*.HostName", {path: hourly, value: hourly});
"#;

const PRESET_CREDENTIALS: &str = r#"const daily = Date.now(86400000);
const id = declare("DeviceID.ID", {value: 1}).value[0];
declare("Device.ManagementServer.ConnectionRequestUsername", {value: daily}, {value: id});
declare("Device.ManagementServer.ConnectionRequestPassword", {value: daily}, {value: id.split("").reverse().join("")});
declare("Device.ManagementServer.PeriodicInformEnable", {value: daily}, {value: true});
"#;

const PRESET_TAG: &str = r#"const [tag, on] = args;
declare("Tags." + tag, null, {value: on === "yes"});
if (on === "yes") declare("Device.X_Custom.Profile", {value: 1}, {value: tag.toUpperCase()});
"#;

/// Answers from a small table, as the session's in-memory device data would.
struct TableHost {
    known: Vec<(&'static str, Vec<Instance>)>,
}

fn instance(path: &str, value: Value, kind: &str) -> Instance {
    Instance {
        path: path.to_owned(),
        value: Some((value, kind.to_owned())),
        writable: Some(true),
        object: Some(false),
        ..Instance::default()
    }
}

impl TableHost {
    fn new() -> Self {
        TableHost {
            known: vec![
                (
                    "DeviceID.ProductClass",
                    vec![instance(
                        "DeviceID.ProductClass",
                        json!("HG8245H"),
                        "xsd:string",
                    )],
                ),
                (
                    "DeviceID.SerialNumber",
                    vec![instance(
                        "DeviceID.SerialNumber",
                        json!("48575443A1B2C3D4"),
                        "xsd:string",
                    )],
                ),
                (
                    "DeviceID.ID",
                    vec![instance(
                        "DeviceID.ID",
                        json!("00E0FC-HG8245H-48575443A1B2C3D4"),
                        "xsd:string",
                    )],
                ),
                (
                    "Device.WiFi.SSID.*.Enable",
                    vec![
                        instance("Device.WiFi.SSID.1.Enable", json!(true), "xsd:boolean"),
                        instance("Device.WiFi.SSID.2.Enable", json!(false), "xsd:boolean"),
                    ],
                ),
            ],
        }
    }
}

impl Host for TableHost {
    fn declare(&mut self, path: &str, _: &Value, _: &Value) -> Result<Vec<Instance>, String> {
        for (known, instances) in &self.known {
            if *known == path {
                return Ok(instances.clone());
            }
        }
        Ok(vec![Instance::new(path)])
    }
    fn clear(&mut self, _: &str, _: f64, _: &Value) -> Result<(), String> {
        Ok(())
    }
    fn commit(&mut self) -> Flow {
        Flow::Continue
    }
    fn ext(&mut self, _: &str, _: &str, _: &[Value]) -> ExtAnswer {
        ExtAnswer::Yield
    }
    fn log(&mut self, message: &str) {
        black_box(message);
    }
}

const ENV: RunEnv = RunEnv {
    now_ms: 1_700_000_000_000,
    random_seed: 0x5EED,
};

fn run(sandbox: &mut Sandbox, script: &Script, args: &[Value], host: &mut TableHost) {
    let outcome = sandbox.run(script, args, &ENV, host);
    assert!(matches!(outcome, Outcome::Finished(_)), "{outcome:?}");
    black_box(outcome);
}

fn bench_run(c: &mut Criterion) {
    let provision = Script::new("provision.js", PROVISION).unwrap();
    let refresh = Script::new("refresh.js", PRESET_REFRESH).unwrap();
    let credentials = Script::new("credentials.js", PRESET_CREDENTIALS).unwrap();
    let tag = Script::new("tag.js", PRESET_TAG).unwrap();
    let tag_args = [json!("premium"), json!("yes")];
    let mut sandbox = Sandbox::new(Limits::default());
    let mut host = TableHost::new();

    let mut group = c.benchmark_group("run");
    group.bench_function("provision_20_lines", |b| {
        b.iter(|| run(&mut sandbox, &provision, &[], &mut host));
    });
    group.bench_function("preset_refresh", |b| {
        b.iter(|| run(&mut sandbox, &refresh, &[], &mut host));
    });
    group.bench_function("preset_credentials", |b| {
        b.iter(|| run(&mut sandbox, &credentials, &[], &mut host));
    });
    group.bench_function("preset_tag", |b| {
        b.iter(|| run(&mut sandbox, &tag, &tag_args, &mut host));
    });
    group.bench_function("session_3_presets_and_provision", |b| {
        b.iter(|| {
            run(&mut sandbox, &refresh, &[], &mut host);
            run(&mut sandbox, &credentials, &[], &mut host);
            run(&mut sandbox, &tag, &tag_args, &mut host);
            run(&mut sandbox, &provision, &[], &mut host);
        });
    });
    group.finish();
    assert!(sandbox.builds() <= 1, "no run needed a rebuild");
}

fn bench_isolation(c: &mut Criterion) {
    let provision = Script::new("provision.js", PROVISION).unwrap();
    let mut host = TableHost::new();
    let mut group = c.benchmark_group("isolation");
    group.bench_function("bare_standard_context", |b| {
        let runtime = rquickjs::Runtime::new().unwrap();
        b.iter(|| black_box(rquickjs::Context::full(&runtime).unwrap()));
    });
    group.bench_function("fresh_sandbox_and_run", |b| {
        b.iter(|| {
            let mut sandbox = Sandbox::new(Limits::default());
            run(&mut sandbox, &provision, &[], &mut host);
        });
    });
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.bench_function("script_new_provision", |b| {
        b.iter(|| black_box(Script::new("provision.js", PROVISION).unwrap()));
    });
    let mut host = TableHost::new();
    let mut sandbox = Sandbox::new(Limits::default());
    let mut n = 0_u64;
    group.bench_function("cache_miss_run_provision", |b| {
        b.iter(|| {
            // A new name each time: a new cache entry to compile.
            n += 1;
            let script = Script::new(format!("p{n}.js"), PROVISION).unwrap();
            run(&mut sandbox, &script, &[], &mut host);
        });
    });
    group.finish();
}

/// CPU time of the calling thread: the first field of `/proc/thread-self/schedstat`.
/// The kernel updates it at scheduler ticks and switches, so it is only read around
/// batches long enough (hundreds of milliseconds) for a tick to be noise.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("schedstat's first field");
    Duration::from_nanos(ns)
}

fn bench_cpu(c: &mut Criterion) {
    let provision = Script::new("provision.js", PROVISION).unwrap();
    let refresh = Script::new("refresh.js", PRESET_REFRESH).unwrap();
    let credentials = Script::new("credentials.js", PRESET_CREDENTIALS).unwrap();
    let tag = Script::new("tag.js", PRESET_TAG).unwrap();
    let tag_args = [json!("premium"), json!("yes")];
    let mut sandbox = Sandbox::new(Limits::default());
    let mut host = TableHost::new();
    let empty = Script::new("empty.js", "").unwrap();
    let mut group = c.benchmark_group("cpu");
    // The fixed cost of a run: the call, the limits' bookkeeping, the result.
    group.bench_function("empty_script", |b| {
        b.iter_custom(|iterations| {
            let started = thread_cpu();
            for _ in 0..iterations {
                run(&mut sandbox, &empty, &[], &mut host);
            }
            thread_cpu() - started
        });
    });
    group.bench_function("provision_20_lines", |b| {
        b.iter_custom(|iterations| {
            let started = thread_cpu();
            for _ in 0..iterations {
                run(&mut sandbox, &provision, &[], &mut host);
            }
            thread_cpu() - started
        });
    });
    group.bench_function("session_3_presets_and_provision", |b| {
        b.iter_custom(|iterations| {
            let started = thread_cpu();
            for _ in 0..iterations {
                run(&mut sandbox, &refresh, &[], &mut host);
                run(&mut sandbox, &credentials, &[], &mut host);
                run(&mut sandbox, &tag, &tag_args, &mut host);
                run(&mut sandbox, &provision, &[], &mut host);
            }
            thread_cpu() - started
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_run, bench_isolation, bench_compile
}
criterion_group! {
    name = cpu;
    // Few long samples: see `thread_cpu`.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(15));
    targets = bench_cpu
}
criterion_main!(benches, cpu);
