//! The engine against a small simulated CPE: which RPCs it sends, in what order, and what
//! the device ends up with.

use std::collections::{BTreeMap, BTreeSet};

use cwmp::{Body, ParameterInfoStruct, ParameterValue, ParameterValueStruct};
use serde_json::{Value as Json, json};

use super::*;
use crate::device::{DeviceData, DeviceIdentity, Param, StoredValue, ValueType};
use crate::id::DeviceId;
use crate::time::Timestamp;

/// A CPE's data model: path → (writable, value and type); objects end with `.`.
#[derive(Debug, Clone, Default)]
struct Cpe {
    tree: BTreeMap<String, (bool, Option<(String, ValueType)>)>,
    /// Children a new instance of an object gets: relative name → (value, type).
    templates: BTreeMap<String, Vec<(String, String, ValueType)>>,
    next_instance: u32,
    rebooted: u32,
    reset: u32,
    /// Parameters whose SetParameterValues faults (9007).
    refuse: BTreeSet<String>,
    /// Downloads ordered: "type url target".
    downloads: Vec<String>,
}

impl Cpe {
    fn gateway() -> Cpe {
        let mut c = Cpe {
            next_instance: 3,
            ..Cpe::default()
        };
        for (p, v, t) in [
            ("Device.DeviceInfo.SerialNumber", "SN1", ValueType::String),
            (
                "Device.DeviceInfo.SoftwareVersion",
                "1.0",
                ValueType::String,
            ),
            ("Device.DeviceInfo.ModelName", "GW", ValueType::String),
            (
                "Device.ManagementServer.PeriodicInformInterval",
                "3600",
                ValueType::UnsignedInt,
            ),
            (
                "Device.ManagementServer.PeriodicInformEnable",
                "false",
                ValueType::Boolean,
            ),
            ("Device.WiFi.SSID.1.SSID", "home", ValueType::String),
            ("Device.WiFi.SSID.1.Enable", "true", ValueType::Boolean),
            ("Device.WiFi.SSID.2.SSID", "guest", ValueType::String),
            ("Device.WiFi.SSID.2.Enable", "false", ValueType::Boolean),
        ] {
            c.set(p, v, t);
        }
        c.templates.insert(
            "Device.Firewall.Rule.".into(),
            vec![
                ("Name".into(), String::new(), ValueType::String),
                ("Enable".into(), "false".into(), ValueType::Boolean),
            ],
        );
        c.tree.insert("Device.Firewall.Rule.".into(), (true, None));
        c
    }

    fn set(&mut self, path: &str, v: &str, t: ValueType) {
        let mut end = 0;
        while let Some(i) = path[end..].find('.') {
            end += i + 1;
            self.tree
                .entry(path[..end].to_owned())
                .or_insert((true, None));
        }
        self.tree
            .insert(path.to_owned(), (true, Some((v.to_owned(), t))));
    }

    fn value(&self, path: &str) -> Option<&str> {
        self.tree.get(path)?.1.as_ref().map(|(v, _)| v.as_str())
    }

    fn below<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.tree
            .keys()
            .filter(move |k| k.starts_with(prefix) && k.as_str() != prefix)
    }

    fn fault(code: u32) -> Body<'static> {
        Body::Fault(cwmp::Fault::cwmp(
            cwmp::FaultCode(code),
            Some("refused".into()),
        ))
    }

    /// The answer to an RPC.
    fn answer(&mut self, req: &Body<'_>) -> Body<'static> {
        match req {
            Body::GetParameterNames(r) => {
                let prefix = r.parameter_path.to_string();
                if !prefix.is_empty() && !self.tree.contains_key(&prefix) {
                    return Cpe::fault(9005);
                }
                let list = self
                    .below(&prefix)
                    .map(|k| ParameterInfoStruct {
                        name: k.clone().into(),
                        writable: self.tree[k].0,
                    })
                    .collect();
                Body::GetParameterNamesResponse(cwmp::GetParameterNamesResponse {
                    parameter_list: list,
                })
            }
            Body::GetParameterValues(r) => {
                let mut list = Vec::new();
                for n in &r.parameter_names {
                    let n = n.to_string();
                    let names: Vec<String> = if n.ends_with('.') {
                        self.below(&n).cloned().collect()
                    } else if self.tree.contains_key(&n) {
                        vec![n]
                    } else {
                        return Cpe::fault(9005);
                    };
                    for k in names {
                        if let Some((v, t)) = &self.tree[&k].1 {
                            list.push(ParameterValueStruct::new(
                                k.clone(),
                                ParameterValue::from_text(t.xsi_name(), v.clone().into()),
                            ));
                        }
                    }
                }
                Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
                    parameter_list: list,
                })
            }
            Body::SetParameterValues(r) => {
                let refused: Vec<cwmp::SetParameterValuesFault> = r
                    .parameter_list
                    .iter()
                    .filter(|p| {
                        self.refuse.contains(p.name.as_ref())
                            || !self.tree.contains_key(p.name.as_ref())
                    })
                    .map(|p| cwmp::SetParameterValuesFault {
                        parameter_name: p.name.to_string().into(),
                        fault_code: cwmp::FaultCode(9007),
                        fault_string: Some("invalid value".into()),
                    })
                    .collect();
                if !refused.is_empty() {
                    let mut f = cwmp::Fault::cwmp(cwmp::FaultCode(9003), None);
                    if let Some(d) = f.detail.as_mut() {
                        d.set_parameter_values_faults = refused;
                    }
                    return Body::Fault(f);
                }
                for p in &r.parameter_list {
                    let t = self.tree[p.name.as_ref()].1.as_ref().unwrap().1.clone();
                    self.tree.insert(
                        p.name.to_string(),
                        (true, Some((p.value.text().into_owned(), t))),
                    );
                }
                Body::SetParameterValuesResponse(cwmp::SetParameterValuesResponse {
                    status: cwmp::ApplyStatus::Applied,
                })
            }
            Body::AddObject(r) => {
                let object = r.object_name.to_string();
                let Some(template) = self.templates.get(&object).cloned() else {
                    return Cpe::fault(9005);
                };
                let n = self.next_instance;
                self.next_instance += 1;
                self.tree.insert(format!("{object}{n}."), (true, None));
                for (name, v, t) in template {
                    self.tree
                        .insert(format!("{object}{n}.{name}"), (true, Some((v, t))));
                }
                Body::AddObjectResponse(cwmp::AddObjectResponse {
                    instance_number: n,
                    status: cwmp::ApplyStatus::Applied,
                })
            }
            Body::DeleteObject(r) => {
                let object = r.object_name.to_string();
                let gone: Vec<String> = self
                    .tree
                    .keys()
                    .filter(|k| k.starts_with(&object))
                    .cloned()
                    .collect();
                for g in gone {
                    self.tree.remove(&g);
                }
                Body::DeleteObjectResponse(cwmp::DeleteObjectResponse {
                    status: cwmp::ApplyStatus::Applied,
                })
            }
            Body::Reboot(_) => {
                self.rebooted += 1;
                Body::RebootResponse(cwmp::RebootResponse {})
            }
            Body::Download(d) => {
                self.downloads
                    .push(format!("{} {} {}", d.file_type, d.url, d.target_file_name));
                Body::DownloadResponse(cwmp::DownloadResponse {
                    status: cwmp::TransferStatus::Pending,
                    start_time: cwmp::DateTime::UNKNOWN,
                    complete_time: cwmp::DateTime::UNKNOWN,
                })
            }
            Body::FactoryReset(_) => {
                self.reset += 1;
                Body::FactoryResetResponse(cwmp::FactoryResetResponse {})
            }
            other => panic!("unexpected {}", other.name()),
        }
    }
}

fn facts() -> DeviceFacts {
    DeviceFacts {
        id: DeviceId::parse("00D09E-GW-SN1").unwrap(),
        identity: DeviceIdentity {
            manufacturer: "Acme".into(),
            oui: "00D09E".into(),
            product_class: "GW".into(),
            serial_number: "SN1".into(),
        },
        tags: BTreeSet::new(),
        inform: Timestamp(1_000_000),
        last_boot: None,
        last_bootstrap: None,
        registered: Some(Timestamp(1)),
    }
}

/// What an Inform tells: a few parameters with values, no objects listed.
fn informed(cpe: &Cpe, now: Timestamp) -> DeviceData {
    let mut d = DeviceData::default();
    for p in [
        "Device.DeviceInfo.SoftwareVersion",
        "Device.ManagementServer.PeriodicInformInterval",
    ] {
        let (v, t) = cpe.tree[p].1.clone().unwrap();
        d.params.insert(
            p.to_owned(),
            Param {
                value: Some(StoredValue {
                    text: v,
                    value_type: t,
                }),
                ts: now,
                ..Param::default()
            },
        );
    }
    d
}

fn active(channel: &str, provision: &str, args: Json) -> Active {
    Active {
        channel: channel.into(),
        provision: provision.into(),
        args: args.as_array().cloned().unwrap_or_default(),
    }
}

/// Runs a session's provisioning to the end; returns the RPC names sent and every change.
fn session(
    cpe: &mut Cpe,
    known: &mut DeviceData,
    facts: &mut DeviceFacts,
    start: Timestamp,
    provisions: Vec<Active>,
    runner: &dyn Runner,
) -> (Vec<String>, Vec<Change>) {
    let mut p = Provisioning::new(
        facts.id.clone(),
        start,
        provisions,
        BTreeMap::new(),
        Options::default(),
    );
    let mut sent = Vec::new();
    let mut changes = Vec::new();
    let mut now = start;
    for _ in 0..200 {
        now = Timestamp(now.0 + 10);
        let next = p.next(known, facts, now, runner);
        changes.extend(next.changes);
        match next.action {
            Action::Done => return (sent, changes),
            Action::Ext(calls) => {
                for c in calls {
                    let r = json!(format!("{}:{}:{}", c.name, c.function, c.args));
                    p.on_ext(c, Ok(r));
                }
                sent.push("ext".into());
            }
            // The fake CPE's data is all known: nothing is deferred.
            Action::Load => unreachable!(),
            Action::Send(body) => {
                sent.push(body.name().to_owned());
                let answer = cpe.answer(&body);
                now = Timestamp(now.0 + 10);
                match &answer {
                    Body::Fault(f) => {
                        changes.extend(p.on_fault(crate::plan::cwmp_fault(f, now, 0)))
                    }
                    a => changes.extend(p.on_response(&body, a, known, now)),
                }
            }
        }
    }
    panic!("provisioning did not end: {sent:?}");
}

#[test]
fn a_value_from_the_inform_is_set_in_one_rpc() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    let mut f = facts();
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut f,
        start,
        vec![active(
            "default",
            "value",
            json!(["Device.ManagementServer.PeriodicInformInterval", 300]),
        )],
        &NoScripts,
    );
    assert_eq!(sent, ["SetParameterValues"]);
    assert_eq!(
        cpe.value("Device.ManagementServer.PeriodicInformInterval"),
        Some("300")
    );
    // The next session: nothing to do.
    let (sent, changes) = session(
        &mut cpe,
        &mut known,
        &mut f,
        Timestamp(2_000_000),
        vec![active(
            "default",
            "value",
            json!(["Device.ManagementServer.PeriodicInformInterval", 300]),
        )],
        &NoScripts,
    );
    assert!(sent.is_empty(), "{sent:?}");
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn an_unknown_parameter_is_discovered_read_then_set() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    let mut f = facts();
    let (sent, changes) = session(
        &mut cpe,
        &mut known,
        &mut f,
        start,
        vec![active(
            "default",
            "value",
            json!(["Device.ManagementServer.PeriodicInformEnable", true]),
        )],
        &NoScripts,
    );
    // Listing Device.ManagementServer. tells it exists (and is writable), reading its
    // value tells its type, then it is set.
    assert_eq!(
        sent,
        [
            "GetParameterNames",
            "GetParameterValues",
            "SetParameterValues"
        ]
    );
    assert_eq!(
        cpe.value("Device.ManagementServer.PeriodicInformEnable"),
        Some("true")
    );
    assert!(changes.iter().any(|c| matches!(c, Change::Params { .. })));
}

#[test]
fn reads_of_several_provisions_go_in_one_get_parameter_values() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    // Listed before: only values are missing.
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![active("a", "refresh", json!(["Device.DeviceInfo"]))],
        &NoScripts,
    );
    assert_eq!(sent, ["GetParameterNames", "GetParameterValues"]);
    let later = Timestamp(5_000_000);
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        later,
        vec![
            active(
                "a",
                "refresh",
                json!(["Device.DeviceInfo.SerialNumber", 3600]),
            ),
            active("b", "refresh", json!(["Device.WiFi.SSID.1.SSID", 3600])),
            active("c", "refresh", json!(["Device.DeviceInfo.ModelName", 3600])),
        ],
        &NoScripts,
    );
    // DeviceInfo was read within the hour; the Wi-Fi tree was never listed.
    assert_eq!(sent, ["GetParameterNames", "GetParameterValues"]);
}

#[test]
fn alias_filters_select_instances_by_their_values() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    #[derive(Debug)]
    struct Guest;
    impl Runner for Guest {
        fn run_provision(&self, _: &str, _: &[Json], host: &mut Host<'_>) -> Option<RunOutcome> {
            let r = host.declare(
                "Device.WiFi.SSID.[SSID:guest].Enable",
                &Json::Null,
                &json!({"value": true}),
            );
            assert!(r.is_ok());
            Some(RunOutcome::Finished(Json::Null))
        }
    }
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![active("default", "guest", json!([]))],
        &Guest,
    );
    assert_eq!(
        sent,
        [
            "GetParameterNames",
            "GetParameterValues",
            "SetParameterValues"
        ]
    );
    assert_eq!(cpe.value("Device.WiFi.SSID.2.Enable"), Some("true"));
    assert_eq!(cpe.value("Device.WiFi.SSID.1.Enable"), Some("true"));
}

#[test]
fn instance_counts_add_with_filter_values_and_delete_extra_instances() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    #[derive(Debug)]
    struct Rules(&'static str, Json);
    impl Runner for Rules {
        fn run_provision(&self, _: &str, _: &[Json], host: &mut Host<'_>) -> Option<RunOutcome> {
            host.declare(self.0, &json!({"path": 1}), &json!({"path": self.1}))
                .unwrap();
            Some(RunOutcome::Finished(Json::Null))
        }
    }
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![active("fw", "rules", json!([]))],
        &Rules("Device.Firewall.Rule.[Name:ssh,Enable:true]", json!(1)),
    );
    assert_eq!(
        sent,
        [
            "GetParameterNames",
            "AddObject",
            "GetParameterValues",
            "SetParameterValues"
        ]
    );
    assert_eq!(cpe.value("Device.Firewall.Rule.3.Name"), Some("ssh"));
    assert_eq!(cpe.value("Device.Firewall.Rule.3.Enable"), Some("true"));
    // Declared again: it is there.
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        Timestamp(2_000_000),
        vec![active("fw", "rules", json!([]))],
        &Rules("Device.Firewall.Rule.[Name:ssh,Enable:true]", json!(1)),
    );
    assert!(sent.is_empty(), "{sent:?}");
    // Two more plain instances, then none at all.
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        Timestamp(3_000_000),
        vec![active("fw", "rules", json!([]))],
        &Rules("Device.Firewall.Rule.*", json!(3)),
    );
    assert_eq!(sent, ["AddObject", "AddObject"]);
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        Timestamp(4_000_000),
        vec![active("fw", "rules", json!([]))],
        &Rules("Device.Firewall.Rule.[]", json!(0)),
    );
    assert_eq!(sent, ["DeleteObject", "DeleteObject", "DeleteObject"]);
    assert_eq!(cpe.below("Device.Firewall.Rule.").count(), 0);
}

#[test]
fn tags_change_without_rpcs_and_reboot_once_per_declared_time() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    let mut f = facts();
    f.tags.insert("old".into());
    let (sent, changes) = session(
        &mut cpe,
        &mut known,
        &mut f,
        start,
        vec![
            active("t", "tag", json!(["new"])),
            active("t", "tag", json!(["old", false])),
            active("r", "reboot", json!([])),
        ],
        &NoScripts,
    );
    assert_eq!(sent, ["Reboot"]);
    assert_eq!(cpe.rebooted, 1);
    assert_eq!(f.tags, BTreeSet::from(["new".to_owned()]));
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Tags { add, remove, .. }
        if add == &["new"] && remove == &["old"]))
    );
    // Declaring "reboot if not rebooted in the last 300 s" right after: nothing.
    #[derive(Debug)]
    struct Recent;
    impl Runner for Recent {
        fn run_provision(&self, _: &str, _: &[Json], host: &mut Host<'_>) -> Option<RunOutcome> {
            let t = host.now.0 - 300_000;
            host.declare("Reboot", &Json::Null, &json!({ "value": t }))
                .unwrap();
            Some(RunOutcome::Finished(Json::Null))
        }
    }
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut f,
        Timestamp(start.0 + 60_000),
        vec![active("r", "recent", json!([]))],
        &Recent,
    );
    assert!(sent.is_empty(), "{sent:?}");
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut f,
        Timestamp(start.0 + 600_000),
        vec![active("r", "recent", json!([]))],
        &Recent,
    );
    assert_eq!(sent, ["Reboot"]);
}

#[test]
fn a_fault_stops_only_its_channel() {
    let mut cpe = Cpe::gateway();
    cpe.refuse
        .insert("Device.ManagementServer.PeriodicInformInterval".into());
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    let (sent, changes) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![
            active(
                "bad",
                "value",
                json!(["Device.ManagementServer.PeriodicInformInterval", 300]),
            ),
            active("good", "tag", json!(["configured"])),
            active("good", "value", json!(["Device.WiFi.SSID.1.SSID", "home2"])),
        ],
        &NoScripts,
    );
    // The SetParameterValues for both channels faults; the bad channel stops, the good
    // one's value is set on its own.
    assert_eq!(
        sent,
        [
            "GetParameterNames",
            "GetParameterValues",
            "SetParameterValues",
            "SetParameterValues"
        ]
    );
    assert_eq!(cpe.value("Device.WiFi.SSID.1.SSID"), Some("home2"));
    let faults: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::DeviceFault { channel, .. } => Some(channel.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(faults, ["bad"]);
}

#[test]
fn a_runaway_provision_becomes_a_fault_not_a_stuck_session() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    // Each run wants the interval to differ from what it is now.
    #[derive(Debug)]
    struct Flip;
    impl Runner for Flip {
        fn run_provision(&self, _: &str, _: &[Json], host: &mut Host<'_>) -> Option<RunOutcome> {
            let now = host
                .declare(
                    "Device.ManagementServer.PeriodicInformInterval",
                    &json!({"value": 1}),
                    &Json::Null,
                )
                .unwrap();
            let v = now[0].value.as_ref().unwrap().0.as_i64().unwrap();
            host.declare(
                "Device.ManagementServer.PeriodicInformInterval",
                &Json::Null,
                &json!({ "value": v + 1 }),
            )
            .unwrap();
            Some(RunOutcome::Finished(Json::Null))
        }
    }
    let (sent, changes) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![active("loop", "flip", json!([]))],
        &Flip,
    );
    assert!(sent.len() < 70, "{}", sent.len());
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::DeviceFault { channel, fault, .. }
        if channel == "loop" && fault.code == "too_many_rounds"))
    );
}

#[test]
fn ext_results_are_fetched_then_the_run_starts_again() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    #[derive(Debug)]
    struct Lookup;
    impl Runner for Lookup {
        fn run_provision(&self, _: &str, _: &[Json], host: &mut Host<'_>) -> Option<RunOutcome> {
            let serial = host.declare("DeviceID.SerialNumber", &json!({"value": 1}), &Json::Null);
            let serial = serial.unwrap()[0].value.clone().unwrap().0;
            match host.ext("db", "ssid", &[serial]) {
                ExtAnswer::Yield => Some(RunOutcome::Finished(Json::Null)),
                ExtAnswer::Value(v) => {
                    host.declare(
                        "Device.WiFi.SSID.1.SSID",
                        &Json::Null,
                        &json!({ "value": v }),
                    )
                    .unwrap();
                    Some(RunOutcome::Finished(Json::Null))
                }
            }
        }
    }
    let (sent, _) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![active("default", "lookup", json!([]))],
        &Lookup,
    );
    assert_eq!(
        sent,
        [
            "ext",
            "GetParameterNames",
            "GetParameterValues",
            "SetParameterValues"
        ]
    );
    assert_eq!(
        cpe.value("Device.WiFi.SSID.1.SSID"),
        Some("db:ssid:[\"SN1\"]")
    );
}

#[test]
fn an_unknown_provision_is_a_fault() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    let (sent, changes) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![active("x", "nope", json!([]))],
        &NoScripts,
    );
    assert!(sent.is_empty());
    assert!(
        matches!(&changes[..], [Change::DeviceFault { fault, .. }] if fault.code == "provision.unknown")
    );
}

#[test]
fn virtual_parameters_are_computed_by_their_scripts_and_stored() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    // A provision reads VirtualParameters.model and writes it into the SSID; the virtual
    // parameter's script reads the model name from the device.
    #[derive(Debug)]
    struct Scripts;
    impl Runner for Scripts {
        fn run_provision(&self, _: &str, _: &[Json], host: &mut Host<'_>) -> Option<RunOutcome> {
            let now = host.now.0;
            let m = host
                .declare(
                    "VirtualParameters.model",
                    &json!({ "value": now }),
                    &Json::Null,
                )
                .unwrap();
            if host.commit() == Flow::Continue {
                let v = m[0].value.clone().unwrap().0;
                host.declare(
                    "Device.WiFi.SSID.1.SSID",
                    &Json::Null,
                    &json!({ "value": v }),
                )
                .unwrap();
            }
            Some(RunOutcome::Finished(Json::Null))
        }
        fn run_virtual_parameter(
            &self,
            name: &str,
            args: &[Json],
            host: &mut Host<'_>,
        ) -> Option<RunOutcome> {
            assert_eq!(name, "model");
            assert_eq!(args.len(), 4);
            let now = host.now.0;
            let m = host
                .declare(
                    "Device.DeviceInfo.ModelName",
                    &json!({ "value": now }),
                    &Json::Null,
                )
                .unwrap();
            let v = m
                .first()
                .and_then(|i| i.value.clone())
                .map_or(json!(""), |(v, _)| v);
            Some(RunOutcome::Finished(
                json!({"writable": false, "value": [format!("net-{}", v.as_str().unwrap_or("")), "xsd:string"]}),
            ))
        }
    }
    let (sent, changes) = session(
        &mut cpe,
        &mut known,
        &mut facts(),
        start,
        vec![active("default", "ssid", json!([]))],
        &Scripts,
    );
    // ModelName is found and read for the virtual parameter; then, with its value, the
    // provision's SSID is found, its type read, and it is set.
    assert_eq!(
        sent,
        [
            "GetParameterNames",
            "GetParameterValues",
            "GetParameterNames",
            "GetParameterValues",
            "SetParameterValues"
        ]
    );
    assert_eq!(cpe.value("Device.WiFi.SSID.1.SSID"), Some("net-GW"));
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Params { updates, .. }
        if updates.iter().any(|u| u.path == "VirtualParameters.model"
            && u.value.as_ref().is_some_and(|v| v.text == "net-GW"))))
    );
    assert_eq!(
        known.params["VirtualParameters.model"]
            .value
            .as_ref()
            .unwrap()
            .text,
        "net-GW"
    );
}

#[test]
fn downloads_are_ordered_once_per_file() {
    let mut cpe = Cpe::gateway();
    let start = Timestamp(1_000_000);
    let mut known = informed(&cpe, start);
    let fw = |file: &str| {
        vec![active(
            "fw",
            "download",
            json!(["1 Firmware Upgrade Image", file]),
        )]
    };
    let options = Options {
        file_base_url: Some("http://files.example.net/fw/".into()),
        ..Options::default()
    };
    let mut run = |known: &mut DeviceData, at: i64, file: &str| {
        let mut p = Provisioning::new(
            facts().id,
            Timestamp(at),
            fw(file),
            BTreeMap::new(),
            options.clone(),
        );
        let mut f = facts();
        let mut changes = Vec::new();
        let mut sent = Vec::new();
        loop {
            let next = p.next(known, &mut f, Timestamp(at + 5), &NoScripts);
            changes.extend(next.changes);
            match next.action {
                Action::Send(body) => {
                    sent.push(body.name());
                    let answer = cpe.answer(&body);
                    changes.extend(p.on_response(&body, &answer, known, Timestamp(at + 6)));
                }
                Action::Done => return (sent, changes),
                Action::Ext(_) | Action::Load => unreachable!(),
            }
        }
    };
    let (sent, changes) = run(&mut known, start.0, "v2.bin");
    assert_eq!(sent, ["Download"]);
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::TransferStarted { .. }))
    );
    // The same file in a later session: not again. A new one: ordered.
    let (sent, _) = run(&mut known, start.0 + 100_000, "v2.bin");
    assert!(sent.is_empty(), "{sent:?}");
    let (sent, _) = run(&mut known, start.0 + 200_000, "v3.bin");
    assert_eq!(sent, ["Download"]);
    assert_eq!(
        cpe.downloads,
        [
            "1 Firmware Upgrade Image http://files.example.net/fw/v2.bin ",
            "1 Firmware Upgrade Image http://files.example.net/fw/v3.bin "
        ]
    );
    assert_eq!(
        known.params["Downloads.1.LastFileName"]
            .value
            .as_ref()
            .unwrap()
            .text,
        "http://files.example.net/fw/v3.bin"
    );
}
