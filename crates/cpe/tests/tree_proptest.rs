//! Property tests: any value GetParameterValues gives for a writable parameter can be set
//! back with SetParameterValues; arbitrary values and paths never panic and only give the
//! faults TR-069 allows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod tree_common;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use cpe::tree::{Template, Tree};
use cwmp::ParameterValue as V;
use proptest::prelude::*;
use tree_common::*;

/// Writable parameters whose value reads back (hidden and secured ones read empty), with
/// their values, in tree order. Values the ACS may not set although the CPE reports them
/// (read-only enumeration values: `DiagnosticsState` `None`) are left out: setting them is
/// 9007 by the data model. Write-once parameters (`Alias`) are left out too: once set they
/// are read-only (tested in tree_rpc.rs).
fn writable_values(t: &mut Tree) -> Vec<(String, V<'static>)> {
    let names: BTreeMap<String, bool> = gpn(t, "", false).unwrap().into_iter().collect();
    let model = t.template().model().clone();
    gpv(t, &[""])
        .unwrap()
        .into_iter()
        .filter(|(n, _)| names.get(n) == Some(&true))
        .filter(|(n, _)| {
            let template = template_of(n);
            let def = model.param(&template).unwrap();
            !def.syntax.reads_empty() && def.access != cpe::model::Access::WriteOnceReadOnly
        })
        .filter(|(n, v)| {
            let template = template_of(n);
            let syntax = &model.param(&template).unwrap().syntax;
            !syntax
                .enumeration
                .iter()
                .any(|e| e.read_only && *e.value == *v.text())
        })
        .collect()
}

/// `Device.WiFi.SSID.1.SSID` → `Device.WiFi.SSID.{i}.SSID`.
fn template_of(name: &str) -> String {
    name.split('.')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{i}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn templates() -> [Arc<Template>; 2] {
    [builtin(), builtin_tr181()]
}

fn prepared(template: &Arc<Template>) -> Tree {
    let mut t = device(template, 11);
    add_object(&mut t, "Device.NAT.PortMapping.", "k").unwrap();
    add_object(&mut t, "Device.IP.Interface.2.IPv4Address.", "k").unwrap();
    t
}

#[test]
fn every_writable_value_sets_back_at_once() {
    for template in templates() {
        let mut t = prepared(&template);
        let values = writable_values(&mut t);
        assert!(values.len() > 150, "{}", values.len());
        let list: Vec<(&str, V<'static>)> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        if let Err(code) = spv(&mut t, &list, "all") {
            let body = spv_body(&mut t, &list, "all");
            panic!("{code}: {:?}", spv_faults(&body));
        }
        // Nothing changed, so the overlay holds the ParameterKey (and the two instances).
        assert_eq!(writable_values(&mut t), values);
        let state = t.overlay_state();
        assert_eq!(state.values.len(), 1, "{:?}", state.values);
        assert_eq!(state.tables.len(), 2, "{:?}", state.tables);
        // And as xsd:string, the way GenieACS sends them.
        let as_strings: Vec<(&str, V<'static>)> = values
            .iter()
            .map(|(n, v)| (n.as_str(), V::String(Cow::Owned(v.text().into_owned()))))
            .collect();
        spv(&mut t, &as_strings, "strings").unwrap();
        assert_eq!(writable_values(&mut t), values);
    }
}

fn arbitrary_value() -> impl Strategy<Value = V<'static>> {
    prop_oneof![
        ".{0,40}".prop_map(|s| V::String(Cow::Owned(s))),
        "[0-9]{1,6}".prop_map(|s| V::String(Cow::Owned(s))),
        any::<i32>().prop_map(V::Int),
        any::<u32>().prop_map(V::UnsignedInt),
        any::<i64>().prop_map(V::Long),
        any::<u64>().prop_map(V::UnsignedLong),
        any::<bool>().prop_map(V::Boolean),
        (0i64..4_000_000_000)
            .prop_map(|s| V::DateTime(cwmp::DateTime::from_unix_timestamp(s).unwrap())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(V::Base64),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(V::HexBinary),
        (
            "xsd:(int|unsignedInt|boolean|dateTime|decimal|token)",
            ".{0,12}"
        )
            .prop_map(|(t, s)| V::from_text(&t, Cow::Owned(s)).into_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_subsets_set_back(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..24),
        with_model in any::<bool>(),
    ) {
        let template = if with_model { builtin_tr181() } else { builtin() };
        let mut t = prepared(&template);
        let values = writable_values(&mut t);
        let mut chosen: BTreeMap<String, V<'static>> = BTreeMap::new();
        for p in &picks {
            let (n, v) = p.get(&values);
            chosen.insert(n.clone(), v.clone());
        }
        let list: Vec<(&str, V<'static>)> =
            chosen.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
        prop_assert_eq!(spv(&mut t, &list, "p"), Ok(()));
        for (n, v) in &chosen {
            prop_assert_eq!(&get(&mut t, n), v);
        }
    }

    #[test]
    fn arbitrary_values_succeed_or_fault_cleanly(
        pick in any::<prop::sample::Index>(),
        value in arbitrary_value(),
        with_model in any::<bool>(),
    ) {
        let template = if with_model { builtin_tr181() } else { builtin() };
        let mut t = prepared(&template);
        let values = writable_values(&mut t);
        let (name, _) = pick.get(&values).clone();
        let body = spv_body(&mut t, &[(name.as_str(), value.clone())], "v");
        match fault_code(&body) {
            None => {
                // Accepted: what reads back sets back.
                let read = get(&mut t, &name);
                prop_assert_eq!(spv(&mut t, &[(name.as_str(), read.clone())], "w"), Ok(()));
                prop_assert_eq!(get(&mut t, &name), read);
                prop_assert_eq!(parameter_key(&t), "w");
            }
            Some(9003) => {
                let faults = spv_faults(&body);
                prop_assert_eq!(faults.len(), 1);
                prop_assert!(matches!(faults[0].1, 9006 | 9007), "{:?}", faults);
                prop_assert_eq!(parameter_key(&t), "k");
            }
            Some(other) => prop_assert!(false, "fault {}", other),
        }
    }

    #[test]
    fn arbitrary_paths_never_panic(
        path in "(Device\\.|InternetGatewayDevice\\.)?([A-Za-z0-9{}]{0,12}\\.){0,5}[A-Za-z0-9]{0,10}",
        next_level in any::<bool>(),
    ) {
        let mut t = device(&builtin(), 1);
        match gpn(&mut t, &path, next_level) {
            Ok(_) => {}
            Err(code) => prop_assert!(code == 9005 || code == 9003, "{code}"),
        }
        match gpv(&mut t, &[&path]) {
            Ok(_) => {}
            Err(code) => prop_assert_eq!(code, 9005),
        }
        match gpa(&mut t, &[&path]) {
            Ok(_) => {}
            Err(code) => prop_assert_eq!(code, 9005),
        }
        match add_object(&mut t, &path, "k") {
            Ok(_) => prop_assert!(path.ends_with('.')),
            Err(code) => prop_assert!(code == 9005 || code == 9004, "{code}"),
        }
        match delete_object(&mut t, &path, "k") {
            Ok(()) => prop_assert!(path.ends_with('.')),
            Err(code) => prop_assert!(code == 9005 || code == 9001, "{code}"),
        }
    }
}
