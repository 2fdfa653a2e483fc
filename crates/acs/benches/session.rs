//! What provisioning costs a CWMP session, without the network and the store.
//!
//! One periodic session of the sessions benchmark (`bench/sessions.sh`): a 20-parameter
//! Inform from `acs-loadgen`'s template, read and answered, then the empty POST answered
//! 204, by the session engine (`acs_core::session`) as `acs serve` runs it, with the
//! device's tags already in place. Two ways:
//!
//! - `session/no_presets`: no presets, the `acs` run;
//! - `session/three_presets`: the `acs-presets` run's three presets (`classify`, the
//!   20-line provision `bench/presets/classify.js`, on software version `^4\.`; the
//!   built-in `tag` on `2 PERIODIC`; one whose precondition no device meets), the data
//!   deferred as the server defers it.
//!
//! The difference is the CPU provisioning costs a session (the goal is under 100 µs): the
//! session is single-threaded and does no I/O, so its wall time is its CPU time on an
//! otherwise idle machine. Compare the two in the same run.
//!
//! Run: `cargo bench -p acs --bench session`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use acs::scripts::ScriptRunner;
use acs_core::Timestamp;
use acs_core::preset::{Name, Preset};
use acs_core::provision::Options;
use acs_core::session::{
    DeviceContext, EngineConfig, ProvisioningSetup, Reply, Session, read_inform,
};
use acs_script::Limits;
use criterion::{Criterion, criterion_group, criterion_main};
use loadgen::inform::{InformTemplate, Vars};
use serde_json::json;

// The allocator `acs serve` runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLASSIFY: &str = include_str!("../../../bench/presets/classify.js");

/// Devices the session cycles over (each device's tags as its first session left them).
const DEVICES: u32 = 64;

fn presets() -> Vec<Preset> {
    let make = |name: &str, json: serde_json::Value| {
        Preset::from_json(&Name::parse(name).unwrap(), &json).unwrap()
    };
    vec![
        make(
            "classify",
            json!({"weight": 1,
                   "precondition": {"Device.DeviceInfo.SoftwareVersion": {"$regex": "^4\\."}},
                   "provisions": [["classify"]]}),
        ),
        make(
            "periodic",
            json!({"events": {"2 PERIODIC": true}, "provisions": [["tag", "periodic"]]}),
        ),
        make(
            "lab-reboot",
            json!({"precondition": {"_tags": "lab"}, "provisions": [["reboot"]]}),
        ),
    ]
}

struct Bench {
    template: InformTemplate,
    config: EngineConfig,
    presets: Arc<Vec<Preset>>,
    runner: Arc<ScriptRunner>,
    /// Each device's tags after its first session.
    tags: Vec<BTreeSet<String>>,
}

impl Bench {
    fn new() -> Bench {
        let (runner, errors) = ScriptRunner::new(
            [("classify".to_owned(), CLASSIFY.to_owned())],
            [],
            Limits::default(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let mut bench = Bench {
            template: InformTemplate::new(20).unwrap(),
            config: EngineConfig::default(),
            presets: Arc::new(presets()),
            runner: Arc::new(runner),
            tags: vec![BTreeSet::new(); DEVICES as usize],
        };
        // First sessions: learn the tags each device ends with.
        for device in 0..DEVICES {
            let mut added = BTreeSet::new();
            for _ in 0..3 {
                let (_, tags) = bench.session(device, 0, true);
                added.extend(tags);
                bench.tags[device as usize].clone_from(&added);
            }
        }
        bench
    }

    /// One session; returns the tags it added.
    fn session(&self, device: u32, round: u64, presets: bool) -> (usize, Vec<String>) {
        let now_s = 1_790_000_000 + i64::try_from(round).unwrap();
        let body = self.template.render(&Vars {
            device,
            round,
            session: round * u64::from(DEVICES) + u64::from(device),
            now: now_s,
            elapsed: u32::try_from(round).unwrap(),
        });
        let now = Timestamp(now_s * 1000);
        let inform = read_inform(&body, &self.config).unwrap();
        let ctx = DeviceContext {
            known_device: true,
            cr_credentials: Some(("acs-cr".into(), "0123456789abcdef".into())),
            new_cr_credentials: Some(("acs-new".into(), "fedcba9876543210".into())),
            remote_address: Some("127.0.0.1".into()),
            data_deferred: presets,
            provisioning: presets.then(|| ProvisioningSetup {
                presets: self.presets.clone(),
                channel_faults: Vec::new(),
                tags: self.tags[device as usize].clone(),
                last_boot: None,
                last_bootstrap: None,
                registered: Some(Timestamp(1_700_000_000_000)),
                runner: self.runner.clone(),
                options: Options::default(),
            }),
            ..DeviceContext::default()
        };
        let (mut session, step) = Session::start(now, inform, ctx, &self.config);
        let mut tags = Vec::new();
        let mut changes = step.changes.len();
        collect_tags(&step.changes, &mut tags);
        assert!(matches!(step.reply, Reply::Soap(_)), "{:?}", step.reply);
        // The benchmark's sessions ask the CPE nothing (tags are the store's): the empty
        // POST ends them.
        let step = session.handle(now, b"", &self.config);
        assert!(matches!(step.reply, Reply::NoContent), "{:?}", step.reply);
        changes += step.changes.len();
        collect_tags(&step.changes, &mut tags);
        (black_box(changes), tags)
    }
}

fn collect_tags(changes: &[acs_core::change::Change], out: &mut Vec<String>) {
    for c in changes {
        if let acs_core::change::Change::Tags { add, .. } = c {
            out.extend(add.iter().cloned());
        }
    }
}

fn bench_session(c: &mut Criterion) {
    let bench = Bench::new();
    for device in 0..DEVICES {
        let (_, tags) = bench.session(device, 1, true);
        assert!(tags.is_empty(), "device {device} still tagged {tags:?}");
        assert!(!bench.tags[device as usize].is_empty());
    }
    let mut group = c.benchmark_group("session");
    group.measurement_time(Duration::from_secs(10));
    for (name, presets) in [("no_presets", false), ("three_presets", true)] {
        group.bench_function(name, |b| {
            let mut round = 1;
            b.iter(|| {
                round += 1;
                let device = u32::try_from(round % u64::from(DEVICES)).unwrap();
                black_box(bench.session(device, round, presets))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_session);
criterion_main!(benches);
