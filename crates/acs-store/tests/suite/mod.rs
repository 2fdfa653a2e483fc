//! The behaviour every `Store` implementation must have, written against the trait only.
//! Each case takes a fresh, empty store; `tests/sqlite.rs` instantiates them for SQLite,
//! and the PostgreSQL implementation instantiates the same cases.

// The cases are test code, outside #[test] functions: they may unwrap and panic.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::future::Future;

use acs_core::change::{Change, Event, InformRecord, ParamUpdate, PendingTransfer};
use acs_core::device::{Attributes, DeviceIdentity, StoredValue, ValueType};
use acs_core::fault::Fault;
use acs_core::preset::{Name, Preset, ScriptKind};
use acs_core::query::{DeviceSnapshot, Field, parse_filter, parse_sort};
use acs_core::task::{NewTask, TaskKind, parse_task, parse_time};
use acs_core::{DeviceId, Timestamp};
use acs_store::{
    CpeCredential, DeviceQuery, ListQuery, Page, Provisioning, ProvisioningSnapshot, Script, Store,
    StoreError, TokenRecord,
};
use serde_json::{Value, json};

/// 2024-05-01T12:00:00Z.
pub const T: i64 = 1_714_564_800_000;

pub fn dev(serial: &str) -> DeviceId {
    DeviceId::from_identity("00D09E", "HGW", serial)
}

pub fn value(text: &str, t: ValueType) -> StoredValue {
    StoredValue {
        text: text.into(),
        value_type: t,
    }
}

/// A parameter read at `ts`.
pub fn param(path: &str, text: &str, t: ValueType, ts: i64) -> ParamUpdate {
    ParamUpdate {
        path: path.into(),
        object: false,
        writable: Some(false),
        value: Some(value(text, t)),
        ts: Some(Timestamp(ts)),
        attributes: None,
    }
}

/// A value as an Inform carries it: no writable flag, no attributes.
pub fn informed(path: &str, text: &str, t: ValueType, ts: i64) -> ParamUpdate {
    ParamUpdate {
        writable: None,
        ..param(path, text, t, ts)
    }
}

pub fn object(path: &str, writable: bool, ts: i64) -> ParamUpdate {
    ParamUpdate {
        path: path.into(),
        object: true,
        writable: Some(writable),
        value: None,
        ts: Some(Timestamp(ts)),
        attributes: None,
    }
}

pub fn inform_record(device: &DeviceId, at: i64, params: Vec<ParamUpdate>) -> InformRecord {
    let serial = device.as_str().rsplit('-').next().unwrap_or_default();
    InformRecord {
        device: device.clone(),
        identity: DeviceIdentity {
            manufacturer: "Acme".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: serial.into(),
        },
        at: Timestamp(at),
        events: vec![Event {
            code: "2 PERIODIC".into(),
            command_key: String::new(),
        }],
        retry_count: 0,
        cwmp_version: "1.2".into(),
        bootstrap: false,
        boot: false,
        params,
        remote_address: Some("192.0.2.1".into()),
    }
}

pub fn inform(device: &DeviceId, at: i64, params: Vec<ParamUpdate>) -> Change {
    Change::Inform(inform_record(device, at, params))
}

pub fn task(device: &DeviceId, json: Value, now: i64) -> NewTask {
    parse_task(device.clone(), &json, Timestamp(now)).unwrap()
}

pub fn fault(code: &str, retries: u32, at: i64) -> Fault {
    Fault {
        code: code.into(),
        message: format!("{code} happened"),
        detail: Some(json!({"why": code})),
        timestamp: Timestamp(at),
        retries,
    }
}

pub fn list(equals: &[(&str, Value)]) -> ListQuery {
    ListQuery {
        equals: equals
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        skip: 0,
        limit: None,
    }
}

pub fn query(filter: Value) -> DeviceQuery {
    DeviceQuery {
        filter: parse_filter(&filter).unwrap(),
        projection: Vec::new(),
        sort: Vec::new(),
        skip: 0,
        limit: None,
        count_limit: None,
    }
}

fn ids(page: &Page) -> Vec<String> {
    page.items
        .iter()
        .map(|d| d["_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids (serial numbers) of the devices matching a filter, sorted.
async fn matching(store: &impl Store, filter: Value) -> Vec<String> {
    let mut q = query(filter.clone());
    q.projection = vec!["_id".into()];
    let page = store
        .query_devices(&q)
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert_eq!(page.total as usize, page.items.len(), "{filter}");
    let mut out: Vec<String> = ids(&page)
        .into_iter()
        .map(|id| id.rsplit('-').next().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

async fn device_doc(store: &impl Store, device: &DeviceId) -> Value {
    let page = store
        .query_devices(&query(json!({"_id": device.as_str()})))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    page.items.into_iter().next().unwrap()
}

pub async fn inform_creates_and_updates_devices<S: Store>(store: S) {
    let a = dev("A");
    assert_eq!(store.device_summary(&a).await.unwrap(), None);
    let uptime = "Device.DeviceInfo.UpTime";
    store
        .commit(vec![inform(
            &a,
            T,
            vec![param(uptime, "10", ValueType::UnsignedInt, T)],
        )])
        .await
        .unwrap();
    let s = store.device_summary(&a).await.unwrap().unwrap();
    assert_eq!(s.device, a);
    assert_eq!(s.last_inform, Some(Timestamp(T)));
    assert!(!s.has_tasks && !s.has_transfers);
    assert_eq!(s.cr_credentials, None);
    assert_eq!(
        (s.registered, s.last_boot, s.last_bootstrap),
        (Some(Timestamp(T)), None, None)
    );

    let doc = device_doc(&store, &a).await;
    assert_eq!(doc["_registered"], "2024-05-01T12:00:00.000Z");
    assert_eq!(doc["_lastInform"], "2024-05-01T12:00:00.000Z");
    assert!(doc.get("_lastBoot").is_none());
    assert_eq!(doc["Device"]["DeviceInfo"]["UpTime"]["_value"], 10);

    // A second Inform, with BOOT: times move, registration stays, parameters update.
    let mut second = inform_record(
        &a,
        T + 60_000,
        vec![param(uptime, "5", ValueType::UnsignedInt, T + 60_000)],
    );
    second.boot = true;
    second.identity.manufacturer = "Acme Corp".into();
    store.commit(vec![Change::Inform(second)]).await.unwrap();
    let doc = device_doc(&store, &a).await;
    assert_eq!(doc["_registered"], "2024-05-01T12:00:00.000Z");
    assert_eq!(doc["_lastInform"], "2024-05-01T12:01:00.000Z");
    assert_eq!(doc["_lastBoot"], "2024-05-01T12:01:00.000Z");
    assert!(doc.get("_lastBootstrap").is_none());
    assert_eq!(doc["_deviceId"]["_Manufacturer"], "Acme Corp");
    assert_eq!(doc["Device"]["DeviceInfo"]["UpTime"]["_value"], 5);
    let data = store.session_data(&a, Timestamp(T)).await.unwrap();
    let p = &data.data.params[uptime];
    assert_eq!(p.value, Some(value("5", ValueType::UnsignedInt)));
    assert_eq!(p.ts, Timestamp(T + 60_000));
    assert_eq!(p.writable, Some(false));

    // An unknown device has no data.
    let none = store.session_data(&dev("Z"), Timestamp(T)).await.unwrap();
    assert!(none.data.params.is_empty() && none.tasks.is_empty());

    // A boot later (an hour on): the summary says when.
    let mut boot = inform_record(&a, T + 3_600_000, Vec::new());
    boot.boot = true;
    store.commit(vec![Change::Inform(boot)]).await.unwrap();
    let s = store.device_summary(&a).await.unwrap().unwrap();
    assert_eq!(
        (s.registered, s.last_boot, s.last_inform),
        (
            Some(Timestamp(T)),
            Some(Timestamp(T + 3_600_000)),
            Some(Timestamp(T + 3_600_000))
        )
    );

    // A periodic Inform of the same identity: only the times that moved change (the
    // store takes a shorter way for it).
    let periodic = inform_record(&a, T + 7_200_000, Vec::new());
    store.commit(vec![Change::Inform(periodic)]).await.unwrap();
    let s = store.device_summary(&a).await.unwrap().unwrap();
    assert_eq!(
        (s.registered, s.last_boot, s.last_inform),
        (
            Some(Timestamp(T)),
            Some(Timestamp(T + 3_600_000)),
            Some(Timestamp(T + 7_200_000))
        )
    );
    let doc = device_doc(&store, &a).await;
    assert_eq!(doc["_deviceId"]["_SerialNumber"], "A");
    assert_eq!(doc["_lastInform"], "2024-05-01T14:00:00.000Z");
}

/// Periodic Informs mostly repeat values: 40 parameters (more than one batch of the
/// writer's), most unchanged, some changed, one typed anew, each read again later. Every
/// one takes the new read time and value; what the Inform does not carry (writable,
/// attributes) stays.
pub async fn repeated_values_take_the_new_read_time<S: Store>(store: S) {
    let d = dev("R");
    let path = |i: usize| format!("Device.Repeat.P{i:02}");
    let first: Vec<ParamUpdate> = (0..40)
        .map(|i| {
            let mut u = param(&path(i), &format!("v{i}"), ValueType::String, T);
            if i == 7 {
                u.writable = Some(true);
                u.attributes = Some((
                    Attributes {
                        notification: 2,
                        access_list: vec!["Subscriber".into()],
                    },
                    Timestamp(T),
                ));
            }
            u
        })
        .collect();
    store.commit(vec![inform(&d, T, first)]).await.unwrap();
    let later = T + 60_000;
    let second: Vec<ParamUpdate> = (0..40)
        .map(|i| {
            let (text, t) = match i {
                5 | 17 | 33 => (format!("changed{i}"), ValueType::String),
                9 => (format!("v{i}"), ValueType::Other("xsd:token".into())),
                _ => (format!("v{i}"), ValueType::String),
            };
            ParamUpdate {
                writable: None,
                ..param(&path(i), &text, t, later)
            }
        })
        .collect();
    store.commit(vec![inform(&d, later, second)]).await.unwrap();
    let data = store.session_data(&d, Timestamp(later)).await.unwrap().data;
    for i in 0..40 {
        let p = &data.params[&path(i)];
        let (text, t) = match i {
            5 | 17 | 33 => (format!("changed{i}"), ValueType::String),
            9 => (format!("v{i}"), ValueType::Other("xsd:token".into())),
            _ => (format!("v{i}"), ValueType::String),
        };
        assert_eq!(p.value, Some(value(&text, t)), "{}", path(i));
        assert_eq!(p.ts, Timestamp(later), "{}", path(i));
        assert_eq!(p.writable, Some(i == 7), "{}", path(i));
        assert_eq!(p.attributes.is_some(), i == 7, "{}", path(i));
    }
    let found = matching(&store, json!({"Device.Repeat.P17": "changed17"})).await;
    assert_eq!(found, ["R"]);
    assert!(
        matching(&store, json!({"Device.Repeat.P17": "v17"}))
            .await
            .is_empty()
    );
}

/// A device's parameters as its session reads them: (path, value, read time).
async fn read_times(store: &impl Store, d: &DeviceId, t: i64) -> Vec<(String, String, i64)> {
    let data = store.session_data(d, Timestamp(t)).await.unwrap().data;
    data.params
        .iter()
        .map(|(path, p)| {
            let text = p.value.as_ref().map_or("", |v| v.text.as_str()).to_owned();
            (path.clone(), text, p.ts.millis())
        })
        .collect()
}

/// An Inform that repeats the last one leaves the parameter rows alone, and its
/// parameters still read as read at its time; a parameter a later Inform no longer
/// carries keeps the time it was last read; what other writes change is not hidden by a
/// repeated Inform.
pub async fn repeated_informs_read_at_their_time<S: Store>(store: S) {
    let (a, b) = (dev("A"), dev("B"));
    let at = |s: i64| T + s * 1000;
    let p = |path: &str, text: &str, t: i64| param(path, text, ValueType::String, t);
    let ab = |t: i64| vec![p("Device.A", "1", t), p("Device.B", "2", t)];
    let row = |path: &str, text: &str, t: i64| (path.to_owned(), text.to_owned(), t);

    store
        .commit(vec![
            inform(&a, at(0), ab(at(0))),
            inform(&b, at(0), ab(at(0))),
        ])
        .await
        .unwrap();
    // The same Inform again: the read times move with it.
    store
        .commit(vec![inform(&a, at(1), ab(at(1)))])
        .await
        .unwrap();
    assert_eq!(
        read_times(&store, &a, at(1)).await,
        [row("Device.A", "1", at(1)), row("Device.B", "2", at(1))]
    );
    // Another device's rows keep their own time.
    assert_eq!(
        read_times(&store, &b, at(1)).await,
        [row("Device.A", "1", at(0)), row("Device.B", "2", at(0))]
    );

    // A session reads a new value; the next Inform carries the old one again, which is
    // what the device now has.
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![p("Device.A", "5", at(2))],
        }])
        .await
        .unwrap();
    assert_eq!(
        read_times(&store, &a, at(2)).await,
        [row("Device.A", "5", at(2)), row("Device.B", "2", at(1))]
    );
    store
        .commit(vec![inform(&a, at(3), ab(at(3)))])
        .await
        .unwrap();
    assert_eq!(
        read_times(&store, &a, at(3)).await,
        [row("Device.A", "1", at(3)), row("Device.B", "2", at(3))]
    );

    // Device.A leaves the Inform: it was last read at the Inform before.
    let bc = |t: i64| vec![p("Device.B", "2", t), p("Device.C", "3", t)];
    store
        .commit(vec![inform(&a, at(4), bc(at(4)))])
        .await
        .unwrap();
    store
        .commit(vec![inform(&a, at(5), bc(at(5)))])
        .await
        .unwrap();
    let expected = [
        row("Device.A", "1", at(3)),
        row("Device.B", "2", at(5)),
        row("Device.C", "3", at(5)),
    ];
    assert_eq!(read_times(&store, &a, at(5)).await, expected);

    // A deleted parameter comes back with the next Inform, even an identical one.
    store
        .commit(vec![Change::DeleteParams {
            device: a.clone(),
            paths: vec!["Device.C".into()],
        }])
        .await
        .unwrap();
    store
        .commit(vec![inform(&a, at(6), bc(at(6)))])
        .await
        .unwrap();
    let expected = [
        row("Device.A", "1", at(3)),
        row("Device.B", "2", at(6)),
        row("Device.C", "3", at(6)),
    ];
    assert_eq!(read_times(&store, &a, at(6)).await, expected);

    // A bootstrap with the same values still starts again from them alone.
    let mut reset = inform_record(&a, at(7), bc(at(7)));
    reset.bootstrap = true;
    store.commit(vec![Change::Inform(reset)]).await.unwrap();
    store
        .commit(vec![inform(&a, at(8), bc(at(8)))])
        .await
        .unwrap();
    assert_eq!(
        read_times(&store, &a, at(8)).await,
        [row("Device.B", "2", at(8)), row("Device.C", "3", at(8))]
    );

    // Queries and the API see the same read times.
    assert_eq!(
        matching(&store, json!({"Device.B._timestamp": {"$gte": at(8)}})).await,
        ["A"]
    );
    assert_eq!(
        matching(&store, json!({"Device.B._timestamp": {"$lt": at(1)}})).await,
        ["B"]
    );
    let mut q = query(json!({}));
    q.sort = parse_sort(&json!({"Device.B._timestamp": -1})).unwrap();
    q.projection = vec!["_id".into()];
    assert_eq!(ids(&store.query_devices(&q).await.unwrap()).len(), 2);
    let first = ids(&store.query_devices(&q).await.unwrap())[0].clone();
    assert_eq!(first, a.as_str());
    let mut q = query(json!({"_id": a.as_str()}));
    q.projection = vec!["Device.B".into()];
    let page = store.query_devices(&q).await.unwrap();
    assert_eq!(
        page.items[0]["Device"]["B"]["_timestamp"],
        "2024-05-01T12:00:08.000Z"
    );
}

/// An Inform in which some values changed writes those; the others still read as read at
/// its time, and value filters see the new values. A path twice in one Inform keeps its
/// later value; what another write changed is written again by the next Inform.
pub async fn informs_write_the_values_that_changed<S: Store>(store: S) {
    let a = dev("A");
    let at = |s: i64| T + s * 1000;
    let row = |path: &str, text: &str, t: i64| (path.to_owned(), text.to_owned(), t);
    let abn = |a: &str, b: &str, n: &str, t: i64| {
        vec![
            informed("Device.A", a, ValueType::String, t),
            informed("Device.B", b, ValueType::String, t),
            informed("Device.N", n, ValueType::UnsignedInt, t),
        ]
    };
    store
        .commit(vec![inform(&a, at(0), abn("1", "2", "100", at(0)))])
        .await
        .unwrap();
    store
        .commit(vec![inform(&a, at(1), abn("1", "9", "101", at(1)))])
        .await
        .unwrap();
    assert_eq!(
        read_times(&store, &a, at(1)).await,
        [
            row("Device.A", "1", at(1)),
            row("Device.B", "9", at(1)),
            row("Device.N", "101", at(1)),
        ]
    );
    assert_eq!(matching(&store, json!({"Device.N": 101})).await, ["A"]);
    assert!(matching(&store, json!({"Device.N": 100})).await.is_empty());
    // The changed row's number was written with its text: a range below it finds it.
    assert_eq!(
        matching(&store, json!({"Device.N": {"$lt": 102}})).await,
        ["A"]
    );
    assert_eq!(matching(&store, json!({"Device.B": "9"})).await, ["A"]);
    assert!(matching(&store, json!({"Device.B": "2"})).await.is_empty());

    // A session writes B; the next Inform's B is the one of the Inform before, and is
    // written all the same.
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![param("Device.B", "5", ValueType::String, at(2))],
        }])
        .await
        .unwrap();
    store
        .commit(vec![inform(&a, at(3), abn("1", "9", "102", at(3)))])
        .await
        .unwrap();
    assert_eq!(
        read_times(&store, &a, at(3)).await,
        [
            row("Device.A", "1", at(3)),
            row("Device.B", "9", at(3)),
            row("Device.N", "102", at(3)),
        ]
    );

    // A path twice: its row holds the later value, Inform after Inform.
    let twice = |first: &str, t: i64| {
        let mut ps = abn(first, "9", "102", t);
        ps.push(param("Device.A", "7", ValueType::String, t));
        ps
    };
    for (i, first) in ["1", "8", "1"].into_iter().enumerate() {
        let t = at(4 + i as i64);
        store
            .commit(vec![inform(&a, t, twice(first, t))])
            .await
            .unwrap();
        assert_eq!(
            read_times(&store, &a, t).await,
            [
                row("Device.A", "7", t),
                row("Device.B", "9", t),
                row("Device.N", "102", t),
            ],
            "Inform {i}"
        );
    }
}

pub async fn bootstrap_resets_what_is_known<S: Store>(store: S) {
    let a = dev("A");
    store
        .commit(vec![
            inform(
                &a,
                T,
                vec![
                    param("Device.A", "1", ValueType::Int, T),
                    param("Device.B", "2", ValueType::Int, T),
                ],
            ),
            Change::ConnectionRequestCredentials {
                device: a.clone(),
                username: "u".into(),
                password: "p".into(),
            },
        ])
        .await
        .unwrap();
    let s = store.device_summary(&a).await.unwrap().unwrap();
    assert_eq!(s.cr_credentials, Some(("u".into(), "p".into())));

    let mut reset = inform_record(
        &a,
        T + 1000,
        vec![param("Device.C", "3", ValueType::Int, T + 1000)],
    );
    reset.bootstrap = true;
    reset.events[0].code = "0 BOOTSTRAP".into();
    store.commit(vec![Change::Inform(reset)]).await.unwrap();
    let data = store.session_data(&a, Timestamp(T)).await.unwrap();
    let paths: Vec<&str> = data.data.params.keys().map(String::as_str).collect();
    assert_eq!(paths, ["Device.C"]);
    let s = store.device_summary(&a).await.unwrap().unwrap();
    assert_eq!(s.cr_credentials, None);
    let doc = device_doc(&store, &a).await;
    assert_eq!(doc["_lastBootstrap"], "2024-05-01T12:00:01.000Z");
    assert_eq!(doc["_registered"], "2024-05-01T12:00:00.000Z");
}

pub async fn params_update_and_delete<S: Store>(store: S) {
    let a = dev("A");
    store.commit(vec![inform(&a, T, vec![])]).await.unwrap();
    let attrs = Attributes {
        notification: 2,
        access_list: vec!["Subscriber".into()],
    };
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![
                object("Device.IP.", false, T),
                object("Device.IP.Interface.1.", true, T),
                param(
                    "Device.IP.Interface.1.Enable",
                    "true",
                    ValueType::Boolean,
                    T,
                ),
                ParamUpdate {
                    attributes: Some((attrs.clone(), Timestamp(T + 5))),
                    ..param("Device.IP.Interface.1.Name", "wan", ValueType::String, T)
                },
                param("Device.IPX", "x", ValueType::String, T),
                param("Device.IP", "leaf", ValueType::String, T),
            ],
        }])
        .await
        .unwrap();
    // `None` fields keep what is stored.
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![
                ParamUpdate {
                    path: "Device.IP.Interface.1.Name".into(),
                    writable: Some(true),
                    ..Default::default()
                },
                ParamUpdate {
                    path: "Device.IP.Interface.1.Enable".into(),
                    value: Some(value("false", ValueType::Boolean)),
                    ts: Some(Timestamp(T + 9)),
                    ..Default::default()
                },
            ],
        }])
        .await
        .unwrap();
    let data = store.session_data(&a, Timestamp(T)).await.unwrap().data;
    let name = &data.params["Device.IP.Interface.1.Name"];
    assert_eq!(name.value, Some(value("wan", ValueType::String)));
    assert_eq!(name.writable, Some(true));
    assert_eq!(name.ts, Timestamp(T));
    assert_eq!(name.attributes, Some((attrs, Timestamp(T + 5))));
    let enable = &data.params["Device.IP.Interface.1.Enable"];
    assert_eq!(enable.value, Some(value("false", ValueType::Boolean)));
    assert_eq!(enable.ts, Timestamp(T + 9));
    assert_eq!(enable.writable, Some(false));
    assert!(data.params["Device.IP.Interface.1."].object);
    assert!(!data.params["Device.IP.Interface.1.Enable"].object);
    // The same value read again: a new timestamp, the rest kept.
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![ParamUpdate {
                writable: None,
                ..param(
                    "Device.IP.Interface.1.Name",
                    "wan",
                    ValueType::String,
                    T + 50,
                )
            }],
        }])
        .await
        .unwrap();
    let data = store.session_data(&a, Timestamp(T)).await.unwrap().data;
    let name = &data.params["Device.IP.Interface.1.Name"];
    assert_eq!(name.ts, Timestamp(T + 50));
    assert_eq!(name.writable, Some(true));
    assert!(name.attributes.is_some());
    // The same text with another type changes how it compares.
    for (t, numeric) in [
        (ValueType::String, false),
        (ValueType::Int, true),
        (ValueType::String, false),
    ] {
        store
            .commit(vec![Change::Params {
                device: a.clone(),
                updates: vec![param("Device.N", "5", t.clone(), T)],
            }])
            .await
            .unwrap();
        let got = matching(&store, json!({"Device.N": {"$gte": 5}})).await;
        assert_eq!(!got.is_empty(), numeric, "{t:?}");
        let data = store.session_data(&a, Timestamp(T)).await.unwrap().data;
        assert_eq!(data.params["Device.N"].value, Some(value("5", t)));
    }
    // A value of another type replaces the number used in comparisons.
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![param("Device.IPX", "7", ValueType::Int, T)],
        }])
        .await
        .unwrap();
    assert_eq!(matching(&store, json!({"Device.IPX": 7})).await, ["A"]);
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![param("Device.IPX", "seven", ValueType::String, T)],
        }])
        .await
        .unwrap();
    assert!(matching(&store, json!({"Device.IPX": 7})).await.is_empty());

    // Deleting an object deletes what is below it, not its namesakes.
    store
        .commit(vec![Change::DeleteParams {
            device: a.clone(),
            paths: vec!["Device.IP.".into()],
        }])
        .await
        .unwrap();
    let data = store.session_data(&a, Timestamp(T)).await.unwrap().data;
    let paths: Vec<&str> = data.params.keys().map(String::as_str).collect();
    assert_eq!(paths, ["Device.IP", "Device.IPX", "Device.N"]);
    store
        .commit(vec![Change::DeleteParams {
            device: a.clone(),
            paths: vec![
                "Device.IP".into(),
                "Device.N".into(),
                "Device.Unknown".into(),
            ],
        }])
        .await
        .unwrap();
    let data = store.session_data(&a, Timestamp(T)).await.unwrap().data;
    let paths: Vec<&str> = data.params.keys().map(String::as_str).collect();
    assert_eq!(paths, ["Device.IPX"]);
    store
        .commit(vec![Change::DeleteParams {
            device: a.clone(),
            paths: vec![String::new()],
        }])
        .await
        .unwrap();
    let data = store.session_data(&a, Timestamp(T)).await.unwrap().data;
    assert!(data.params.is_empty());
}

pub async fn changes_for_unknown_devices_fail_their_batch<S: Store>(store: S) {
    let a = dev("A");
    let b = dev("B");
    let result = store
        .commit(vec![
            inform(&a, T, vec![]),
            Change::Params {
                device: b.clone(),
                updates: vec![param("Device.X", "1", ValueType::Int, T)],
            },
        ])
        .await;
    assert!(result.is_err());
    // Nothing of the batch was written.
    assert_eq!(store.device_summary(&a).await.unwrap(), None);
    assert_eq!(store.device_summary(&b).await.unwrap(), None);
    assert!(matching(&store, json!({})).await.is_empty());
    // The store still works.
    store.commit(vec![inform(&a, T, vec![])]).await.unwrap();
    assert!(store.device_summary(&a).await.unwrap().is_some());
    store.commit(vec![]).await.unwrap();
}

pub async fn tasks_queue_list_and_finish<S: Store>(store: S) {
    let a = dev("A");
    let b = dev("B");
    store
        .commit(vec![inform(&a, T, vec![]), inform(&b, T, vec![])])
        .await
        .unwrap();
    // A task for a device that does not exist is refused.
    assert!(
        store
            .insert_task(task(&dev("Z"), json!({"name": "reboot"}), T))
            .await
            .is_err()
    );

    let t1 = store
        .insert_task(task(&a, json!({"name": "reboot"}), T))
        .await
        .unwrap();
    let t2 = store
        .insert_task(task(
            &a,
            json!({"name": "getParameterValues", "parameterNames": ["Device.X"],
                "uniqueKey": "gpv"}),
            T + 1,
        ))
        .await
        .unwrap();
    let t3 = store
        .insert_task(task(&b, json!({"name": "factoryReset", "expiry": 60}), T))
        .await
        .unwrap();
    assert!(t1 < t2 && t2 < t3);
    assert!(store.device_summary(&a).await.unwrap().unwrap().has_tasks);
    assert_eq!(store.task_device(t3).await.unwrap(), Some(b.clone()));
    assert_eq!(store.task_device(9999).await.unwrap(), None);
    assert_eq!(store.counts().await.unwrap(), (3, 0));

    // Replacing by unique key.
    let t4 = store
        .insert_task(task(
            &a,
            json!({"name": "getParameterValues", "parameterNames": ["Device.Y"],
                "uniqueKey": "gpv"}),
            T + 2,
        ))
        .await
        .unwrap();
    assert!(t4 > t3);
    assert_eq!(store.task_device(t2).await.unwrap(), None);

    // Listing, with filters and paging.
    let page = store.list_tasks(&ListQuery::default()).await.unwrap();
    assert_eq!(page.total, 3);
    let listed: Vec<&str> = page
        .items
        .iter()
        .map(|t| t["_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [t1.to_string(), t3.to_string(), t4.to_string()]);
    let first = &page.items[0];
    assert_eq!(first["name"], "reboot");
    assert_eq!(first["device"], a.as_str());
    assert_eq!(first["timestamp"], "2024-05-01T12:00:00.000Z");
    assert!(first.get("retries").is_none() && first.get("fault").is_none());
    let page = store
        .list_tasks(&list(&[("device", json!(a.as_str()))]))
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    let page = store
        .list_tasks(&list(&[("name", json!("factoryReset"))]))
        .await
        .unwrap();
    assert_eq!(ids_of_tasks(&page), [t3]);
    assert_eq!(page.items[0]["expiry"], "2024-05-01T12:01:00.000Z");
    let page = store
        .list_tasks(&list(&[("_id", json!(t4.to_string()))]))
        .await
        .unwrap();
    assert_eq!(ids_of_tasks(&page), [t4]);
    let page = store
        .list_tasks(&ListQuery {
            skip: 1,
            limit: Some(1),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, ids_of_tasks(&page)), (3, vec![t3]));
    assert!(matches!(
        store.list_tasks(&list(&[("bogus", json!("x"))])).await,
        Err(StoreError::InvalidQuery(_))
    ));

    // Due tasks, oldest first, with their kinds.
    let data = store.session_data(&a, Timestamp(T + 10)).await.unwrap();
    let due: Vec<i64> = data.tasks.iter().map(|t| t.id).collect();
    assert_eq!(due, [t1, t4]);
    assert_eq!(data.tasks[0].kind, TaskKind::Reboot);
    assert_eq!(data.tasks[0].created, Timestamp(T));
    assert!(matches!(
        data.tasks[1].kind,
        TaskKind::GetParameterValues(_)
    ));
    // Expired tasks are not due, and expire_tasks deletes them.
    assert_eq!(
        store
            .session_data(&b, Timestamp(T + 59_000))
            .await
            .unwrap()
            .tasks
            .len(),
        1
    );
    assert!(
        store
            .session_data(&b, Timestamp(T + 60_000))
            .await
            .unwrap()
            .tasks
            .is_empty()
    );
    assert_eq!(store.expire_tasks(Timestamp(T + 30_000)).await.unwrap(), 0);
    assert_eq!(store.expire_tasks(Timestamp(T + 60_000)).await.unwrap(), 1);
    assert_eq!(store.task_device(t3).await.unwrap(), None);

    // Progress is kept.
    store
        .commit(vec![Change::TaskProgress {
            task: t4,
            progress: json!({"done": 1}),
        }])
        .await
        .unwrap();
    let data = store.session_data(&a, Timestamp(T + 10)).await.unwrap();
    assert_eq!(data.tasks[1].progress, Some(json!({"done": 1})));

    // A fault delays the task and shows in the lists.
    store
        .commit(vec![Change::TaskFault {
            task: t1,
            device: a.clone(),
            fault: fault("cwmp.9002", 0, T + 20),
            retry_at: Timestamp(T + 300_000),
        }])
        .await
        .unwrap();
    let data = store.session_data(&a, Timestamp(T + 30)).await.unwrap();
    assert_eq!(data.tasks.iter().map(|t| t.id).collect::<Vec<_>>(), [t4]);
    let data = store
        .session_data(&a, Timestamp(T + 300_000))
        .await
        .unwrap();
    let faulted = data.tasks.iter().find(|t| t.id == t1).unwrap();
    assert_eq!(faulted.retries, 1);
    assert_eq!(faulted.not_before, Some(Timestamp(T + 300_000)));
    let page = store
        .list_tasks(&list(&[("_id", json!(t1))]))
        .await
        .unwrap();
    let listed = &page.items[0];
    assert_eq!(listed["retries"], 1);
    assert_eq!(listed["fault"]["code"], "cwmp.9002");
    assert_eq!(listed["fault"]["channel"], format!("task_{t1}"));
    assert_eq!(listed["fault"]["detail"], json!({"why": "cwmp.9002"}));
    let faults = store.list_faults(&ListQuery::default()).await.unwrap();
    assert_eq!(faults.total, 1);
    assert_eq!(store.counts().await.unwrap(), (2, 1));

    // Retrying clears the fault and the delay.
    assert!(store.retry_task(t1).await.unwrap());
    assert!(!store.retry_task(9999).await.unwrap());
    let data = store.session_data(&a, Timestamp(T + 30)).await.unwrap();
    assert_eq!(
        data.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [t1, t4]
    );
    assert_eq!(
        store
            .list_faults(&ListQuery::default())
            .await
            .unwrap()
            .total,
        0
    );

    // Done tasks disappear with their faults.
    store
        .commit(vec![
            Change::TaskFault {
                task: t1,
                device: a.clone(),
                fault: fault("cwmp.9002", 1, T + 40),
                retry_at: Timestamp(T + 40),
            },
            Change::TaskDone {
                task: t1,
                device: a.clone(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.task_device(t1).await.unwrap(), None);
    assert_eq!(store.counts().await.unwrap(), (1, 0));
    // A change about a task deleted meanwhile changes nothing.
    store
        .commit(vec![
            Change::TaskProgress {
                task: t1,
                progress: json!(1),
            },
            Change::TaskFault {
                task: t1,
                device: a.clone(),
                fault: fault("x", 0, T),
                retry_at: Timestamp(T),
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.counts().await.unwrap(), (1, 0));

    assert_eq!(store.delete_task(t4).await.unwrap(), Some(a.clone()));
    assert_eq!(store.delete_task(t4).await.unwrap(), None);
    assert!(!store.device_summary(&a).await.unwrap().unwrap().has_tasks);
}

fn ids_of_tasks(page: &Page) -> Vec<i64> {
    page.items
        .iter()
        .map(|t| t["_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

pub async fn faults_list_and_delete<S: Store>(store: S) {
    let a = dev("A");
    let b = dev("B");
    store
        .commit(vec![inform(&a, T, vec![]), inform(&b, T, vec![])])
        .await
        .unwrap();
    let t = store
        .insert_task(task(&a, json!({"name": "reboot"}), T))
        .await
        .unwrap();
    store
        .commit(vec![
            Change::DeviceFault {
                device: a.clone(),
                channel: "transfer".into(),
                fault: fault("cwmp.9010", 2, T + 1),
            },
            Change::DeviceFault {
                device: b.clone(),
                channel: "cr_credentials".into(),
                fault: Fault {
                    detail: None,
                    ..fault("timeout", 0, T + 2)
                },
            },
            Change::TaskFault {
                task: t,
                device: a.clone(),
                fault: fault("cwmp.9002", 0, T + 3),
                retry_at: Timestamp(T + 1000),
            },
        ])
        .await
        .unwrap();
    let all = store.list_faults(&ListQuery::default()).await.unwrap();
    assert_eq!(all.total, 3);
    let transfer = all
        .items
        .iter()
        .find(|f| f["channel"] == "transfer")
        .unwrap();
    assert_eq!(
        *transfer,
        json!({
            "_id": format!("{a}:transfer"),
            "device": a.as_str(),
            "channel": "transfer",
            "code": "cwmp.9010",
            "message": "cwmp.9010 happened",
            "detail": {"why": "cwmp.9010"},
            "timestamp": "2024-05-01T12:00:00.001Z",
            "retries": 2,
        })
    );
    let by_device = store
        .list_faults(&list(&[("device", json!(b.as_str()))]))
        .await
        .unwrap();
    assert_eq!(by_device.total, 1);
    assert_eq!(by_device.items[0]["detail"], Value::Null);
    let by_code = store
        .list_faults(&list(&[("code", json!("cwmp.9002"))]))
        .await
        .unwrap();
    assert_eq!(by_code.items[0]["channel"], format!("task_{t}"));
    let by_id = store
        .list_faults(&list(&[("_id", json!(format!("{a}:transfer")))]))
        .await
        .unwrap();
    assert_eq!(by_id.total, 1);
    let by_channel = store
        .list_faults(&list(&[
            ("channel", json!("transfer")),
            ("device", json!(b.as_str())),
        ]))
        .await
        .unwrap();
    assert_eq!(by_channel.total, 0);
    assert!(matches!(
        store.list_faults(&list(&[("name", json!("x"))])).await,
        Err(StoreError::InvalidQuery(_))
    ));
    let paged = store
        .list_faults(&ListQuery {
            limit: Some(2),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((paged.total, paged.items.len()), (3, 2));

    // Clearing a channel, deleting a fault, and a task's fault with its task.
    store
        .commit(vec![Change::ClearFault {
            device: b.clone(),
            channel: "cr_credentials".into(),
        }])
        .await
        .unwrap();
    assert!(store.delete_fault(&a, "transfer").await.unwrap());
    assert!(!store.delete_fault(&a, "transfer").await.unwrap());
    assert!(!store.delete_fault(&dev("Z"), "transfer").await.unwrap());
    assert!(store.delete_fault(&a, &format!("task_{t}")).await.unwrap());
    assert_eq!(store.task_device(t).await.unwrap(), None);
    assert_eq!(store.counts().await.unwrap(), (0, 0));
}

pub async fn transfers_await_completion<S: Store>(store: S) {
    let a = dev("A");
    store.commit(vec![inform(&a, T, vec![])]).await.unwrap();
    let transfer = PendingTransfer {
        command_key: "fw1".into(),
        task: Some(7),
        detail: json!({"url": "http://example.com/fw"}),
        started: Timestamp(T + 5),
    };
    store
        .commit(vec![Change::TransferStarted {
            device: a.clone(),
            transfer: transfer.clone(),
        }])
        .await
        .unwrap();
    assert!(
        store
            .device_summary(&a)
            .await
            .unwrap()
            .unwrap()
            .has_transfers
    );
    let data = store.session_data(&a, Timestamp(T)).await.unwrap();
    assert_eq!(data.transfers, [transfer]);
    store
        .commit(vec![Change::TransferCompleted {
            device: a.clone(),
            command_key: "fw1".into(),
        }])
        .await
        .unwrap();
    assert!(
        !store
            .device_summary(&a)
            .await
            .unwrap()
            .unwrap()
            .has_transfers
    );
    assert!(
        store
            .session_data(&a, Timestamp(T))
            .await
            .unwrap()
            .transfers
            .is_empty()
    );
}

pub async fn tags_and_device_deletion<S: Store>(store: S) {
    let a = dev("A");
    let b = dev("B");
    store
        .commit(vec![
            inform(&a, T, vec![param("Device.X", "1", ValueType::Int, T)]),
            inform(&b, T, vec![]),
        ])
        .await
        .unwrap();
    assert!(store.add_tag(&a, "lab").await.unwrap());
    assert!(store.add_tag(&a, "lab").await.unwrap());
    assert!(store.add_tag(&a, "east").await.unwrap());
    assert!(!store.add_tag(&dev("Z"), "lab").await.unwrap());
    assert_eq!(
        device_doc(&store, &a).await["_tags"],
        json!(["east", "lab"])
    );
    assert!(device_doc(&store, &b).await.get("_tags").is_none());
    assert!(store.remove_tag(&a, "east").await.unwrap());
    assert!(!store.remove_tag(&dev("Z"), "east").await.unwrap());
    assert_eq!(device_doc(&store, &a).await["_tags"], json!(["lab"]));

    store
        .insert_task(task(&a, json!({"name": "reboot"}), T))
        .await
        .unwrap();
    store
        .commit(vec![Change::DeviceFault {
            device: a.clone(),
            channel: "x".into(),
            fault: fault("x", 0, T),
        }])
        .await
        .unwrap();
    assert!(store.delete_device(&a).await.unwrap());
    assert!(!store.delete_device(&a).await.unwrap());
    assert_eq!(store.device_summary(&a).await.unwrap(), None);
    assert_eq!(store.counts().await.unwrap(), (0, 0));
    assert_eq!(
        matching(&store, json!({"_tags": "lab"})).await,
        Vec::<String>::new()
    );
    assert_eq!(matching(&store, json!({})).await, ["B"]);
    // It comes back as a new device.
    store.commit(vec![inform(&a, T + 5, vec![])]).await.unwrap();
    let doc = device_doc(&store, &a).await;
    assert_eq!(doc["_registered"], "2024-05-01T12:00:00.005Z");
    assert!(doc.get("Device").is_none() && doc.get("_tags").is_none());
}

pub async fn cpe_credentials<S: Store>(store: S) {
    let a = dev("A");
    let cred = |user: &str, md5: &str| CpeCredential {
        username: user.into(),
        device: a.clone(),
        ha1_md5: md5.into(),
        ha1_sha256: format!("{md5}-sha256"),
    };
    // Credentials may exist before the device's first Inform.
    assert_eq!(store.cpe_credential(a.as_str()).await.unwrap(), None);
    store
        .set_cpe_credential(&a, Some(cred(a.as_str(), "h1")))
        .await
        .unwrap();
    assert_eq!(
        store.cpe_credential(a.as_str()).await.unwrap(),
        Some(cred(a.as_str(), "h1"))
    );
    // Setting replaces the device's credentials, under a new username too.
    store
        .set_cpe_credential(&a, Some(cred("other", "h2")))
        .await
        .unwrap();
    assert_eq!(store.cpe_credential(a.as_str()).await.unwrap(), None);
    assert_eq!(
        store.cpe_credential("other").await.unwrap(),
        Some(cred("other", "h2"))
    );
    store.set_cpe_credential(&a, None).await.unwrap();
    assert_eq!(store.cpe_credential("other").await.unwrap(), None);
}

pub async fn api_tokens<S: Store>(store: S) {
    assert_eq!(store.token_count().await.unwrap(), 0);
    assert_eq!(store.token_by_hash("abc").await.unwrap(), None);
    store
        .insert_token(TokenRecord {
            name: "admin".into(),
            hash: "abc".into(),
            created: Timestamp(T),
        })
        .await
        .unwrap();
    store
        .insert_token(TokenRecord {
            name: "ci".into(),
            hash: "def".into(),
            created: Timestamp(T),
        })
        .await
        .unwrap();
    assert_eq!(store.token_count().await.unwrap(), 2);
    assert_eq!(
        store.token_by_hash("abc").await.unwrap().as_deref(),
        Some("admin")
    );
}

pub async fn connection_request_targets<S: Store>(store: S) {
    let a = dev("A");
    let b = dev("B");
    assert_eq!(store.connection_request_target(&a).await.unwrap(), None);
    store
        .commit(vec![
            inform(
                &a,
                T,
                vec![param(
                    "Device.ManagementServer.ConnectionRequestURL",
                    "http://192.0.2.1:7547/cr",
                    ValueType::String,
                    T,
                )],
            ),
            inform(
                &b,
                T,
                vec![param(
                    "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
                    "http://192.0.2.2/",
                    ValueType::String,
                    T,
                )],
            ),
            Change::ConnectionRequestCredentials {
                device: a.clone(),
                username: "acs".into(),
                password: "secret".into(),
            },
        ])
        .await
        .unwrap();
    let t = store.connection_request_target(&a).await.unwrap().unwrap();
    assert_eq!(t.url, "http://192.0.2.1:7547/cr");
    assert_eq!(t.credentials, Some(("acs".into(), "secret".into())));
    let t = store.connection_request_target(&b).await.unwrap().unwrap();
    assert_eq!(t.url, "http://192.0.2.2/");
    assert_eq!(t.credentials, None);
}

/// Four devices: A and B with every parameter, C with some, D with none.
async fn fleet(store: &impl Store) {
    let sv = "Device.DeviceInfo.SoftwareVersion";
    let up = "Device.DeviceInfo.UpTime";
    let en = "Device.Enable";
    let name = "Device.Name";
    let at = "Device.Time";
    let mut d = inform_record(
        &dev("D"),
        T + 3000,
        vec![object("Device.DeviceInfo.", false, T)],
    );
    d.identity.product_class = "X".into();
    d.identity.manufacturer = "Other".into();
    store
        .commit(vec![
            inform(
                &dev("A"),
                T,
                vec![
                    param(sv, "3.0.21", ValueType::String, T),
                    param(up, "100", ValueType::UnsignedInt, T),
                    param(en, "true", ValueType::Boolean, T),
                    ParamUpdate {
                        writable: Some(true),
                        ..param(name, "alpha", ValueType::String, T)
                    },
                    param(at, "2024-05-01T00:00:00Z", ValueType::DateTime, T),
                    object("Device.WiFi.", false, T),
                ],
            ),
            inform(
                &dev("B"),
                T + 1000,
                vec![
                    param(sv, "3.0.9", ValueType::String, T + 1000),
                    param(up, "50", ValueType::UnsignedInt, T + 1000),
                    param(en, "false", ValueType::Boolean, T + 1000),
                    param(name, "Beta", ValueType::String, T + 1000),
                    param(at, "2024-06-01T00:00:00Z", ValueType::DateTime, T + 1000),
                ],
            ),
            inform(
                &dev("C"),
                T + 2000,
                vec![
                    param(sv, "4.1", ValueType::String, T + 2000),
                    param(up, "1000", ValueType::UnsignedInt, T + 2000),
                    // Known by name only: no value.
                    ParamUpdate {
                        path: name.into(),
                        writable: Some(true),
                        ..Default::default()
                    },
                ],
            ),
            Change::Inform(d),
        ])
        .await
        .unwrap();
    for (device, tag) in [("A", "lab"), ("B", "lab"), ("B", "prod")] {
        assert!(store.add_tag(&dev(device), tag).await.unwrap());
    }
}

/// Filters on [`fleet`] and the devices (serial numbers) each selects.
fn filter_cases() -> Vec<(Value, &'static [&'static str])> {
    let sv = "Device.DeviceInfo.SoftwareVersion";
    let up = "Device.DeviceInfo.UpTime";
    vec![
        (json!({}), &["A", "B", "C", "D"]),
        // Equality and inequality; $ne matches devices without the parameter.
        (json!({sv: "3.0.21"}), &["A"]),
        (json!({format!("{sv}._value"): "3.0.21"}), &["A"]),
        (json!({sv: {"$eq": "3.0.21"}}), &["A"]),
        (json!({sv: {"$ne": "3.0.21"}}), &["B", "C", "D"]),
        // Numbers compare numerically, strings as text.
        (json!({up: {"$gt": 60}}), &["A", "C"]),
        (json!({up: {"$gte": 100, "$lt": 1000}}), &["A"]),
        (json!({up: {"$lte": 100}}), &["A", "B"]),
        (json!({up: 100}), &["A"]),
        (json!({up: 100.0}), &["A"]),
        (json!({up: "100"}), &["A"]),
        (json!({sv: {"$gt": "3.0.3"}}), &["B", "C"]),
        (json!({sv: {"$lt": "3.0.3"}}), &["A"]),
        (json!({sv: 3}), &[]),
        // Date-times compare numerically in milliseconds.
        (
            json!({"Device.Time": {"$gt": 1_717_000_000_000_i64}}),
            &["B"],
        ),
        // Booleans as xsd:boolean.
        (json!({"Device.Enable": true}), &["A"]),
        (json!({"Device.Enable": false}), &["B"]),
        (json!({"Device.Enable": {"$ne": true}}), &["B", "C", "D"]),
        (json!({"Device.Enable": "true"}), &["A"]),
        // $in and $nin.
        (json!({up: {"$in": [50, 1000]}}), &["B", "C"]),
        (json!({up: {"$nin": [50, 1000]}}), &["A", "D"]),
        (json!({up: {"$in": [50, null]}}), &["B", "D"]),
        (json!({up: {"$in": []}}), &[]),
        (json!({up: {"$nin": []}}), &["A", "B", "C", "D"]),
        (
            json!({"Device.Name": {"$in": ["alpha", "Beta"]}}),
            &["A", "B"],
        ),
        // Missing parameters: null, $exists; a parameter known without a value is null.
        (json!({"Device.Name": null}), &["C", "D"]),
        (json!({"Device.Name": {"$ne": null}}), &["A", "B"]),
        (json!({"Device.Name": {"$exists": true}}), &["A", "B"]),
        (json!({"Device.Name": {"$exists": false}}), &["C", "D"]),
        (json!({"Device.WiFi": {"$exists": true}}), &["A"]),
        (json!({"Device.WiFi.": {"$exists": true}}), &["A"]),
        (json!({"Device.WiFi.": null}), &["B", "C", "D"]),
        (json!({"Device.Nope": "x"}), &[]),
        (json!({"Device.Nope": {"$ne": "x"}}), &["A", "B", "C", "D"]),
        (json!({"Device.Nope": {"$exists": true}}), &[]),
        (json!({"Device.Nope": null}), &["A", "B", "C", "D"]),
        // Regular expressions.
        (json!({"Device.Name": {"$regex": "^a"}}), &["A"]),
        (json!({"Device.Name": {"$regex": "^b"}}), &[]),
        (
            json!({"Device.Name": {"$regex": "^b", "$options": "i"}}),
            &["B"],
        ),
        (json!({"_id": {"$regex": "-[AB]$"}}), &["A", "B"]),
        (json!({"_tags": {"$regex": "^pr"}}), &["B"]),
        // Combinations.
        (
            json!({"$or": [{"_id": dev("A").as_str()}, {"Device.Name": "Beta"}]}),
            &["A", "B"],
        ),
        (
            json!({"$and": [{up: {"$gt": 10}}, {up: {"$lt": 500}}]}),
            &["A", "B"],
        ),
        (json!({"$nor": [{up: {"$gt": 60}}]}), &["B", "D"]),
        (
            json!({"Device.Name": {"$not": {"$eq": "alpha"}}}),
            &["B", "C", "D"],
        ),
        (
            json!({"_deviceId._OUI": {"$not": {"$eq": "x"}}}),
            &["A", "B", "C", "D"],
        ),
        (json!({"_tags": "lab", up: {"$gt": 60}}), &["A"]),
        // Tags.
        (json!({"_tags": "lab"}), &["A", "B"]),
        (json!({"_tags": {"$ne": "lab"}}), &["C", "D"]),
        (json!({"_tags": {"$in": ["prod", "none"]}}), &["B"]),
        (json!({"_tags": {"$nin": ["prod"]}}), &["A", "C", "D"]),
        (json!({"_tags": {"$exists": false}}), &["C", "D"]),
        (json!({"_tags": {"$exists": true}}), &["A", "B"]),
        (json!({"_tags": null}), &["C", "D"]),
        // Identity and times.
        (json!({"_deviceId._ProductClass": "X"}), &["D"]),
        (
            json!({"_deviceId._Manufacturer": {"$ne": "Other"}}),
            &["A", "B", "C"],
        ),
        (
            json!({"_deviceId._SerialNumber": {"$in": ["A", "C"]}}),
            &["A", "C"],
        ),
        (json!({"_deviceId._OUI": 5}), &[]),
        (json!({"_id": dev("C").as_str()}), &["C"]),
        (json!({"_lastInform": {"$gte": T + 1000}}), &["B", "C", "D"]),
        (
            json!({"_lastInform": {"$lt": "2024-05-01T12:00:01Z"}}),
            &["A"],
        ),
        (json!({"_lastInform": T + 2000}), &["C"]),
        (
            json!({"_registered": {"$lte": "2024-05-01T12:00:01.000Z"}}),
            &["A", "B"],
        ),
        (json!({"_lastBoot": null}), &["A", "B", "C", "D"]),
        (json!({"_lastBoot": {"$exists": true}}), &[]),
        // Parameter timestamps and writable flags.
        (
            json!({format!("{up}._timestamp"): {"$gte": T + 1000}}),
            &["B", "C"],
        ),
        (
            json!({format!("{up}._timestamp"): {"$gte": "2024-05-01T12:00:01Z"}}),
            &["B", "C"],
        ),
        (json!({"Device.Name._writable": true}), &["A", "C"]),
        (json!({"Device.Name._writable": false}), &["B"]),
        (json!({"Device.Name._writable": {"$ne": true}}), &["B", "D"]),
    ]
}

pub async fn filters<S: Store>(store: S) {
    fleet(&store).await;
    for (filter, expected) in filter_cases() {
        assert_eq!(matching(&store, filter.clone()).await, expected, "{filter}");
    }
    // A pattern the engine refuses is an invalid query.
    let err = store
        .query_devices(&query(json!({"Device.Name": {"$regex": "(?<=a)b"}})))
        .await;
    assert!(matches!(err, Err(StoreError::InvalidQuery(_))), "{err:?}");
    let err = store
        .query_devices(&query(json!({"Device.Name": {"$regex": "(unclosed"}})))
        .await;
    assert!(matches!(err, Err(StoreError::InvalidQuery(_))), "{err:?}");
}

pub async fn sorting_and_paging<S: Store>(store: S) {
    let up = "Device.DeviceInfo.UpTime";
    let mut changes = Vec::new();
    for i in 0..23 {
        let serial = format!("S{i:02}");
        let mut params = vec![param(up, &(i % 5).to_string(), ValueType::UnsignedInt, T)];
        if i % 7 == 0 {
            params.clear();
        }
        if i % 6 == 0 {
            params.push(param(
                "Device.Label",
                &format!("L{}", i % 4),
                ValueType::String,
                T,
            ));
        }
        changes.push(inform(&dev(&serial), T + (i * 37 % 11) * 1000, params));
    }
    store.commit(changes).await.unwrap();

    for sort in [
        json!({up: 1}),
        json!({up: -1}),
        json!({"_lastInform": -1}),
        json!({"_lastInform": 1, up: -1}),
        json!({"Device.Label": 1}),
        json!({"_id": -1}),
        json!({}),
    ] {
        let sort_keys = parse_sort(&sort).unwrap();
        let full = store
            .query_devices(&DeviceQuery {
                sort: sort_keys.clone(),
                ..query(json!({}))
            })
            .await
            .unwrap();
        assert_eq!(full.total, 23);
        let full = ids(&full);
        // The order is the one asked, ties by id.
        let mut expected = full.clone();
        expected.sort_by(|a, b| {
            let key = |id: &str| {
                let i: i64 = id.rsplit('-').next().unwrap()[1..].parse().unwrap();
                let uptime = (i % 7 != 0).then_some(i % 5);
                let label = (i % 6 == 0).then(|| format!("L{}", i % 4));
                (i, uptime, label, (i * 37 % 11) * 1000)
            };
            let (ka, kb) = (key(a), key(b));
            for (field, asc) in &sort_keys {
                let ord = match field {
                    Field::Value(p) if p == up => ka.1.cmp(&kb.1),
                    Field::Value(_) => ka.2.cmp(&kb.2),
                    Field::LastInform => ka.3.cmp(&kb.3),
                    Field::Id => a.cmp(b),
                    _ => unreachable!(),
                };
                let ord = if *asc { ord } else { ord.reverse() };
                if ord.is_ne() {
                    return ord;
                }
            }
            a.cmp(b)
        });
        assert_eq!(full, expected, "{sort}");
        // Pages put together give the whole list.
        let mut paged = Vec::new();
        for skip in (0..25).step_by(4) {
            let page = store
                .query_devices(&DeviceQuery {
                    sort: sort_keys.clone(),
                    skip,
                    limit: Some(4),
                    ..query(json!({}))
                })
                .await
                .unwrap();
            assert_eq!(page.total, 23);
            paged.extend(ids(&page));
        }
        assert_eq!(paged, full, "{sort}");
    }
    let err = store
        .query_devices(&DeviceQuery {
            sort: vec![(Field::Tags, true)],
            ..query(json!({}))
        })
        .await;
    assert!(matches!(err, Err(StoreError::InvalidQuery(_))));
    // A filtered page counts every match.
    let page = store
        .query_devices(&DeviceQuery {
            limit: Some(2),
            ..query(json!({up: {"$gte": 3}}))
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(
        page.total,
        matching(&store, json!({up: {"$gte": 3}})).await.len() as u64
    );
    assert!(page.total_exact);
    // With a count limit, counting may stop past it: `total` is then a lower bound above
    // the limit; at or under the limit it is exact.
    for count_limit in [0, 1, 5, 22, 23, 24, 1000] {
        let page = store
            .query_devices(&DeviceQuery {
                limit: Some(2),
                count_limit: Some(count_limit),
                ..query(json!({}))
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2, "{count_limit}");
        if page.total_exact {
            assert_eq!(page.total, 23, "{count_limit}");
        } else {
            assert!(count_limit < 23, "{count_limit}: not exact");
            assert!(
                page.total > count_limit && page.total <= 23,
                "{count_limit}: {}",
                page.total
            );
        }
        if count_limit >= 23 {
            assert!(page.total_exact, "{count_limit}");
        }
    }
    // Nothing matching counts 0, exactly.
    let none = store
        .query_devices(&DeviceQuery {
            count_limit: Some(0),
            ..query(json!({up: 99}))
        })
        .await
        .unwrap();
    assert_eq!((none.total, none.total_exact), (0, true));
}

pub async fn devices_render_as_genieacs_shows_them<S: Store>(store: S) {
    let a = dev("A");
    let mut first = inform_record(
        &a,
        T,
        vec![
            object("Device.", false, T),
            object("Device.DeviceInfo.", false, T + 1),
            param(
                "Device.DeviceInfo.UpTime",
                "42",
                ValueType::UnsignedInt,
                T + 2,
            ),
            param("Device.DeviceInfo.Offset", "-3", ValueType::Int, T + 2),
            param("Device.DeviceInfo.Enabled", "1", ValueType::Boolean, T + 2),
            param("Device.DeviceInfo.Name", "box", ValueType::String, T + 2),
            param(
                "Device.DeviceInfo.Bad",
                "-1",
                ValueType::Other("xsd:unsignedInt".into()),
                T + 2,
            ),
            param("Device.DeviceInfo.Blob", "AAE=", ValueType::Base64, T + 2),
            param(
                "Device.DeviceInfo.When",
                "2024-05-01T12:00:00Z",
                ValueType::DateTime,
                T + 2,
            ),
            ParamUpdate {
                path: "Device.DeviceInfo.Unread".into(),
                writable: Some(true),
                ..Default::default()
            },
            ParamUpdate {
                attributes: Some((
                    Attributes {
                        notification: 2,
                        access_list: vec!["Subscriber".into()],
                    },
                    Timestamp(T + 3),
                )),
                ..param("Device.DeviceInfo.Attr", "x", ValueType::String, T + 2)
            },
        ],
    );
    first.bootstrap = true;
    first.boot = true;
    store.commit(vec![Change::Inform(first)]).await.unwrap();
    store.add_tag(&a, "lab").await.unwrap();
    let doc = device_doc(&store, &a).await;
    let leaf = |v: Value, t: &str| {
        json!({"_object": false, "_value": v, "_type": t,
            "_timestamp": "2024-05-01T12:00:00.002Z", "_writable": false})
    };
    let mut attr = leaf(json!("x"), "xsd:string");
    attr["_notification"] = json!(2);
    attr["_accessList"] = json!(["Subscriber"]);
    let expected = json!({
        "_id": a.as_str(),
        "_deviceId": {
            "_Manufacturer": "Acme",
            "_OUI": "00D09E",
            "_ProductClass": "HGW",
            "_SerialNumber": "A",
        },
        "_registered": "2024-05-01T12:00:00.000Z",
        "_lastInform": "2024-05-01T12:00:00.000Z",
        "_lastBoot": "2024-05-01T12:00:00.000Z",
        "_lastBootstrap": "2024-05-01T12:00:00.000Z",
        "_tags": ["lab"],
        "Device": {
            "_object": true,
            "_timestamp": "2024-05-01T12:00:00.000Z",
            "_writable": false,
            "DeviceInfo": {
                "_object": true,
                "_timestamp": "2024-05-01T12:00:00.001Z",
                "_writable": false,
                "Attr": attr,
                "Bad": leaf(json!("-1"), "xsd:unsignedInt"),
                "Blob": leaf(json!("AAE="), "xsd:base64"),
                "Enabled": leaf(json!(true), "xsd:boolean"),
                "Name": leaf(json!("box"), "xsd:string"),
                "Offset": leaf(json!(-3), "xsd:int"),
                "Unread": {"_object": false, "_writable": true},
                "UpTime": leaf(json!(42), "xsd:unsignedInt"),
                "When": leaf(json!("2024-05-01T12:00:00Z"), "xsd:dateTime"),
            },
        },
    });
    assert_eq!(doc, expected);
}

pub async fn projections<S: Store>(store: S) {
    fleet(&store).await;
    let a = dev("A");
    let mut q = query(json!({"_id": a.as_str()}));
    q.projection = vec!["Device.DeviceInfo".into(), "_lastInform".into()];
    let page = store.query_devices(&q).await.unwrap();
    let doc = &page.items[0];
    let keys: BTreeSet<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["_id", "_lastInform", "Device"]));
    let device: BTreeSet<&str> = doc["Device"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(device, BTreeSet::from(["DeviceInfo"]));
    assert_eq!(doc["Device"]["DeviceInfo"]["UpTime"]["_value"], 100);
    assert_eq!(
        doc["Device"]["DeviceInfo"]["SoftwareVersion"]["_value"],
        "3.0.21"
    );

    // A leaf's attribute; a prefix is a whole segment; top-level fields only.
    q.projection = vec![
        "Device.DeviceInfo.UpTime._value".into(),
        "Device.Ena".into(),
        "_tags".into(),
        "_deviceId._SerialNumber".into(),
    ];
    let doc = store.query_devices(&q).await.unwrap().items.remove(0);
    assert_eq!(
        doc,
        json!({
            "Device": {"DeviceInfo": {"UpTime": {"_value": 100}}},
            "_tags": ["lab"],
            "_deviceId": {"_SerialNumber": "A"},
            "_id": a.as_str(),
        })
    );
    q.projection = vec!["_id".into()];
    let doc = store.query_devices(&q).await.unwrap().items.remove(0);
    assert_eq!(doc, json!({"_id": a.as_str()}));
    // Many paths at once (more than a short list of ids).
    let mut many = Vec::new();
    for i in 0..100 {
        many.push(param(&format!("Device.Many.P{i}"), "1", ValueType::Int, T));
    }
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: many,
        }])
        .await
        .unwrap();
    q.projection = vec!["Device.Many".into()];
    let doc = store.query_devices(&q).await.unwrap().items.remove(0);
    assert_eq!(doc["Device"]["Many"].as_object().unwrap().len(), 100);
    assert!(doc["Device"].get("DeviceInfo").is_none());
}

/// Many sessions commit at once; one batch is invalid: only its caller sees an error.
pub async fn a_failing_batch_does_not_affect_the_others<S: Store>(store: S) {
    // Keep the writer busy so that the following commits queue up and are grouped.
    let big: Vec<ParamUpdate> = (0..3000)
        .map(|i| param(&format!("Device.Big.P{i}"), "1", ValueType::Int, T))
        .collect();
    let busy = {
        let store = store.clone();
        tokio::spawn(async move { store.commit(vec![inform(&dev("BIG"), T, big)]).await })
    };
    tokio::task::yield_now().await;
    let mut handles = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let d = dev(&format!("G{i:02}"));
            let mut changes = vec![inform(
                &d,
                T,
                vec![
                    param("Device.Shared", &i.to_string(), ValueType::Int, T),
                    param(&format!("Device.Own{i}"), "x", ValueType::String, T),
                ],
            )];
            if i == 13 {
                changes.push(Change::Params {
                    device: dev("NOPE"),
                    updates: vec![param("Device.X", "1", ValueType::Int, T)],
                });
            }
            store.commit(changes).await
        }));
    }
    busy.await.unwrap().unwrap();
    for (i, h) in handles.into_iter().enumerate() {
        let result = h.await.unwrap();
        assert_eq!(result.is_err(), i == 13, "commit {i}: {result:?}");
    }
    let devices = matching(&store, json!({"Device.Shared": {"$exists": true}})).await;
    assert_eq!(devices.len(), 39);
    assert!(!devices.contains(&"G13".to_owned()));
    assert_eq!(store.device_summary(&dev("G13")).await.unwrap(), None);
    // The failed batch's new path is unknown; the others' are there.
    assert!(
        matching(&store, json!({"Device.Own13": "x"}))
            .await
            .is_empty()
    );
    assert_eq!(
        matching(&store, json!({"Device.Own12": "x"})).await,
        ["G12"]
    );
    // Its device can be created afterwards.
    store
        .commit(vec![inform(
            &dev("G13"),
            T,
            vec![param("Device.Own13", "x", ValueType::String, T)],
        )])
        .await
        .unwrap();
    assert_eq!(
        matching(&store, json!({"Device.Own13": "x"})).await,
        ["G13"]
    );
}

/// What a commit returned is there after the store is closed and opened again.
pub async fn durable_across_reopen<S, F, Fut>(store: S, reopen: F)
where
    S: Store,
    F: FnOnce() -> Fut,
    Fut: Future<Output = S>,
{
    let a = dev("A");
    store
        .commit(vec![inform(
            &a,
            T,
            vec![param("Device.X", "1", ValueType::Int, T)],
        )])
        .await
        .unwrap();
    let t = store
        .insert_task(task(&a, json!({"name": "reboot"}), T))
        .await
        .unwrap();
    store.add_tag(&a, "kept").await.unwrap();
    store
        .commit(vec![Change::DeviceFault {
            device: a.clone(),
            channel: "c".into(),
            fault: fault("f", 0, T),
        }])
        .await
        .unwrap();
    drop(store);
    let store = reopen().await;
    let data = store.session_data(&a, Timestamp(T)).await.unwrap();
    assert_eq!(
        data.data.params["Device.X"].value,
        Some(value("1", ValueType::Int))
    );
    assert_eq!(data.tasks.iter().map(|t| t.id).collect::<Vec<_>>(), [t]);
    assert_eq!(
        matching(&store, json!({"_tags": "kept", "Device.X": 1})).await,
        ["A"]
    );
    assert_eq!(store.counts().await.unwrap(), (1, 1));
    // Ids keep growing: a new task never reuses an old id.
    store.delete_task(t).await.unwrap();
    let t2 = store
        .insert_task(task(&a, json!({"name": "reboot"}), T))
        .await
        .unwrap();
    assert!(t2 > t);
    // New paths after reopening get new ids.
    store
        .commit(vec![Change::Params {
            device: a.clone(),
            updates: vec![param("Device.Y", "2", ValueType::Int, T)],
        }])
        .await
        .unwrap();
    assert_eq!(
        matching(&store, json!({"Device.Y": 2, "Device.X": 1})).await,
        ["A"]
    );
}

/// A device as the in-memory filter sees it, gathered through the store's own reads: the
/// known data of a session, and the identity, times and tags of the device document.
async fn device_view(store: &impl Store, device: &DeviceId) -> DeviceSnapshot {
    let doc = device_doc(store, device).await;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let time = |k: &str| parse_time(&doc[k]);
    DeviceSnapshot {
        id: device.as_str().to_owned(),
        manufacturer: text(&doc["_deviceId"]["_Manufacturer"]),
        oui: text(&doc["_deviceId"]["_OUI"]),
        product_class: text(&doc["_deviceId"]["_ProductClass"]),
        serial_number: text(&doc["_deviceId"]["_SerialNumber"]),
        last_inform: time("_lastInform"),
        last_boot: time("_lastBoot"),
        last_bootstrap: time("_lastBootstrap"),
        registered: time("_registered"),
        tags: doc["_tags"]
            .as_array()
            .map(|t| t.iter().filter_map(text).collect())
            .unwrap_or_default(),
        data: store.session_data(device, Timestamp(T)).await.unwrap().data,
    }
}

/// Filters beyond [`filter_cases`], on the corners where types, missing values and
/// negations meet, for the devices [`fleet`] and [`odd_devices`] make.
fn more_filters() -> Vec<Value> {
    let sv = "Device.DeviceInfo.SoftwareVersion";
    let up = "Device.DeviceInfo.UpTime";
    vec![
        json!({"Device.Enable": 1}),
        json!({"Device.Enable": {"$gte": false}}),
        json!({"Device.Enable": {"$lt": true}}),
        json!({"Device.Enable": "1"}),
        json!({"Device.Enable": {"$in": [0, true]}}),
        json!({sv: 10}),
        json!({sv: "10"}),
        json!({sv: {"$gte": "3"}}),
        json!({sv: {"$regex": "^[0-9]+$"}}),
        json!({sv: {"$not": {"$gt": "3.0.21"}}}),
        json!({up: {"$lt": 0}}),
        json!({up: {"$gte": -5.5}}),
        json!({up: {"$in": [-5, "100", true]}}),
        json!({up: {"$nin": [null, 50]}}),
        json!({up: {"$lte": null}}),
        json!({up: {"$gt": null}}),
        json!({up: {"$ne": -5.0}}),
        json!({up: {"$lte": true}}),
        json!({"Device.Big": {"$gt": 1.0e19}}),
        json!({"Device.Big": "18446744073709551615"}),
        json!({"Device.Dec": 1.5}),
        json!({"Device.Dec": "1.5"}),
        json!({"Device.Dec": {"$exists": true}}),
        json!({"Device.Hex": {"$regex": "ff", "$options": "i"}}),
        json!({"Device.Hex": {"$regex": "ff"}}),
        json!({"Device.Time": {"$gte": 1_717_000_000_000_i64}}),
        json!({"Device.Time": {"$gte": "2024-06"}}),
        json!({"Device.Name._timestamp": {"$exists": true}}),
        json!({"Device.Name._timestamp": null}),
        json!({"Device.Name._timestamp": {"$lt": "2024-05-01T12:00:01Z"}}),
        json!({"Device.Name._writable": {"$exists": false}}),
        json!({"Device.Name._writable": 1}),
        json!({"Device.Name._writable": {"$lt": 1}}),
        json!({"Device.Name._writable": "true"}),
        json!({"Device.Name._value": {"$regex": "a$"}}),
        json!({"Device.WiFi.": {"$ne": null}}),
        json!({"Device.WiFi": null}),
        json!({"Device.WiFi.": "x"}),
        json!({"Device.WiFi.": {"$ne": "x"}}),
        json!({"Device.WiFi.": {"$regex": "x"}}),
        json!({"Device.WiFi.._timestamp": {"$exists": true}}),
        json!({"Device.WiFi.._writable": false}),
        json!({"Device.DeviceInfo.": {"$exists": false}}),
        json!({"_tags": {"$lt": "a"}}),
        json!({"_tags": {"$gte": "lab"}}),
        json!({"_tags": {"$gt": "z"}}),
        json!({"_tags": {"$regex": "^[a-z0-9]+$"}}),
        json!({"_tags": {"$lte": null}}),
        json!({"_tags": 1}),
        json!({"_tags": {"$nin": ["lab", null]}}),
        json!({"_tags": {"$not": {"$in": ["Zeta", "prod"]}}}),
        json!({"_lastBoot": {"$exists": true}}),
        json!({"_lastBootstrap": {"$gt": 0}}),
        json!({"_lastBoot": {"$ne": null}}),
        json!({"_registered": {"$lt": T + 2500}}),
        json!({"_lastInform": {"$regex": "x"}}),
        json!({"_lastInform": {"$in": [T, null]}}),
        json!({"_lastInform": {"$nin": [T, T + 1000]}}),
        json!({"_lastInform": {"$gt": T + 500}}),
        json!({"_id": {"$gt": dev("C").as_str()}}),
        json!({"_id": {"$lt": dev("C").as_str(), "$gte": dev("B").as_str()}}),
        json!({"_id": {"$exists": false}}),
        json!({"_deviceId._Manufacturer": {"$lt": "B"}}),
        json!({"_deviceId._Manufacturer": {"$regex": "^a", "$options": "i"}}),
        json!({"_deviceId._SerialNumber": {"$nin": []}}),
        json!({"_deviceId._OUI": {"$lte": null}}),
        json!({"_deviceId._ProductClass": true}),
        json!({"$nor": [{"_tags": "lab"}, {"Device.Enable": true}]}),
        json!({"$and": [
            {"$or": [{"Device.Name": {"$regex": "a$"}}, {"_tags": {"$exists": false}}]},
            {"Device.Name": {"$not": {"$regex": "^g"}}}
        ]}),
        json!({"$or": [{"Device.Nope": {"$ne": 1}}, {"_tags": "x"}], "_lastBoot": null}),
    ]
}

/// Devices with what [`fleet`] lacks: boot and bootstrap times, values of other types,
/// a parameter read without a timestamp or writable flag, odd tags.
async fn odd_devices(store: &impl Store) {
    let e = dev("E");
    let mut first = inform_record(
        &e,
        T + 4000,
        vec![
            param(
                "Device.DeviceInfo.SoftwareVersion",
                "10",
                ValueType::String,
                T,
            ),
            param("Device.DeviceInfo.UpTime", "-5", ValueType::Int, T),
            param("Device.Enable", "1", ValueType::Boolean, T),
            ParamUpdate {
                path: "Device.Name".into(),
                value: Some(value("gamma", ValueType::String)),
                ..Default::default()
            },
            param(
                "Device.Time",
                "2024-07-01T00:00:00Z",
                ValueType::DateTime,
                T,
            ),
            param(
                "Device.Dec",
                "1.5",
                ValueType::Other("xsd:decimal".into()),
                T,
            ),
            param(
                "Device.Big",
                "18446744073709551615",
                ValueType::UnsignedLong,
                T,
            ),
            param("Device.Hex", "0aFF", ValueType::HexBinary, T),
            ParamUpdate {
                path: "Device.WiFi.".into(),
                object: true,
                ..Default::default()
            },
        ],
    );
    first.boot = true;
    first.bootstrap = true;
    let mut f = inform_record(&dev("F"), T - 1000, vec![]);
    f.identity.manufacturer = "acme".into();
    store
        .commit(vec![Change::Inform(first), Change::Inform(f)])
        .await
        .unwrap();
    for (device, tag) in [("E", "Zeta"), ("E", "lab2"), ("E", "ünï"), ("F", "a b")] {
        assert!(store.add_tag(&dev(device), tag).await.unwrap());
    }
}

/// The in-memory evaluation of a filter (what a preset's precondition uses at session
/// time) selects exactly the devices the store's query selects.
pub async fn filters_agree_in_memory<S: Store>(store: S) {
    fleet(&store).await;
    odd_devices(&store).await;
    let all = {
        let mut q = query(json!({}));
        q.projection = vec!["_id".into()];
        let page = store.query_devices(&q).await.unwrap();
        let mut views = Vec::new();
        for id in ids(&page) {
            views.push(device_view(&store, &DeviceId::parse(&id).unwrap()).await);
        }
        views
    };
    assert_eq!(all.len(), 6);
    let filters: Vec<Value> = filter_cases()
        .into_iter()
        .map(|(f, _)| f)
        .chain(more_filters())
        .collect();
    for filter in filters {
        let matcher = parse_filter(&filter).unwrap().compile().unwrap();
        let mut in_memory: Vec<String> = all
            .iter()
            .filter(|d| matcher.matches(*d))
            .map(|d| d.serial_number.clone().unwrap())
            .collect();
        in_memory.sort();
        assert_eq!(
            in_memory,
            matching(&store, filter.clone()).await,
            "{filter}"
        );
    }
}

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn preset(n: &str, json: Value) -> Preset {
    Preset::from_json(&name(n), &json).unwrap()
}

fn script(n: &str, source: &str) -> Script {
    Script {
        name: name(n),
        source: source.into(),
    }
}

pub async fn provisioning_round_trips<S: Store>(store: S) {
    let empty = store.provisioning().await.unwrap();
    assert_eq!(empty, ProvisioningSnapshot::default());
    assert_eq!(store.provisioning_revision().await.unwrap(), 0);

    // Presets: put, get, replace.
    let boot = preset(
        "bootstrap",
        json!({"channel": "boot", "weight": 2,
               "precondition": "{\"_tags\": {\"$regex\": \"^lab\"}}",
               "events": {"0 BOOTSTRAP": true},
               "schedule": {"cron": "0 2 * * *", "duration": 3600},
               "provisions": [["refresh", "Device.", {"deep": true}]]}),
    );
    assert_eq!(store.put_preset(&boot).await.unwrap(), 1);
    let got = store.preset(&name("bootstrap")).await.unwrap().unwrap();
    assert_eq!(got, boot);
    // What is read back evaluates (its pattern compiled again).
    let lab = DeviceSnapshot {
        tags: ["lab1".to_owned()].into(),
        ..DeviceSnapshot::default()
    };
    assert!(got.precondition.matches(&lab));
    let boot2 = preset("bootstrap", json!({"weight": -1}));
    assert_eq!(store.put_preset(&boot2).await.unwrap(), 2);
    assert_eq!(
        store.preset(&name("bootstrap")).await.unwrap(),
        Some(boot2.clone())
    );
    assert_eq!(store.preset(&name("none")).await.unwrap(), None);
    let a = preset("a", json!({"provisions": [["x"]]}));
    store.put_preset(&a).await.unwrap();
    assert_eq!(
        store.list_presets().await.unwrap(),
        [a.clone(), boot2.clone()]
    );

    // Scripts: the same name in both kinds, sources kept byte for byte.
    let source = "// ünïcode\r\nconst now = Date.now();\n\tdeclare(\"Device.X\", {value: now});\n";
    for kind in ScriptKind::ALL {
        store.put_script(kind, &name("same"), source).await.unwrap();
        assert_eq!(
            store.script(kind, &name("same")).await.unwrap().as_deref(),
            Some(source)
        );
    }
    store
        .put_script(ScriptKind::Provision, &name("b-prov"), "b")
        .await
        .unwrap();
    store
        .put_script(ScriptKind::Provision, &name("Z_prov"), "z")
        .await
        .unwrap();
    // Replacing.
    let rev = store
        .put_script(ScriptKind::VirtualParameter, &name("same"), "return {};")
        .await
        .unwrap();
    assert_eq!(rev, 8);
    assert_eq!(
        store.list_scripts(ScriptKind::Provision).await.unwrap(),
        [
            script("Z_prov", "z"),
            script("b-prov", "b"),
            script("same", source)
        ]
    );
    assert_eq!(
        store
            .list_scripts(ScriptKind::VirtualParameter)
            .await
            .unwrap(),
        [script("same", "return {};")]
    );

    // Everything at once, with the revision of that content.
    let snap = store.provisioning().await.unwrap();
    assert_eq!(snap.revision, 8);
    assert_eq!(store.provisioning_revision().await.unwrap(), 8);
    assert_eq!(snap.provisioning.presets, [a.clone(), boot2.clone()]);
    assert_eq!(snap.provisioning.provisions.len(), 3);
    assert_eq!(snap.provisioning.virtual_parameters.len(), 1);

    // Deleting: what does not exist changes nothing.
    assert!(!store.delete_preset(&name("none")).await.unwrap());
    assert!(
        !store
            .delete_script(ScriptKind::VirtualParameter, &name("b-prov"))
            .await
            .unwrap()
    );
    assert_eq!(store.provisioning_revision().await.unwrap(), 8);
    assert!(store.delete_preset(&name("a")).await.unwrap());
    assert!(
        store
            .delete_script(ScriptKind::Provision, &name("same"))
            .await
            .unwrap()
    );
    assert_eq!(store.provisioning_revision().await.unwrap(), 10);
    assert_eq!(store.preset(&name("a")).await.unwrap(), None);
    assert_eq!(
        store
            .script(ScriptKind::Provision, &name("same"))
            .await
            .unwrap(),
        None
    );
    // The other kind's script of that name stays.
    assert!(
        store
            .script(ScriptKind::VirtualParameter, &name("same"))
            .await
            .unwrap()
            .is_some()
    );

    // Importing merges in one write ...
    let items = Provisioning {
        presets: vec![preset("imported", json!({"channel": "x"})), boot.clone()],
        provisions: vec![script("b-prov", "b2"), script("new", "n")],
        virtual_parameters: vec![],
    };
    assert_eq!(store.import_provisioning(&items, false).await.unwrap(), 11);
    let snap = store.provisioning().await.unwrap().provisioning;
    assert_eq!(
        snap.presets,
        [boot.clone(), preset("imported", json!({"channel": "x"}))]
    );
    assert_eq!(
        snap.provisions,
        [
            script("Z_prov", "z"),
            script("b-prov", "b2"),
            script("new", "n")
        ]
    );
    assert_eq!(snap.virtual_parameters, [script("same", "return {};")]);
    // ... or replaces everything.
    assert_eq!(store.import_provisioning(&items, true).await.unwrap(), 12);
    let snap = store.provisioning().await.unwrap();
    let mut expected = items.clone();
    expected.presets.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(snap.provisioning, expected);
    assert_eq!(snap.revision, 12);
}

/// Queries of the same shape with integral and fractional numbers, again and again: the
/// placeholder of a comparison has one type whatever the number (PostgreSQL connections
/// cache each statement with the types of its first use, and a later value of another
/// type would be read as that type's bytes: an integer's as a float).
pub async fn numbers_compare_the_same_on_every_connection<S: Store>(store: S) {
    fleet(&store).await;
    let up = "Device.DeviceInfo.UpTime";
    let cases = [
        (json!({up: {"$gte": 100}}), vec!["A", "C"]),
        (json!({up: {"$gte": 99.5}}), vec!["A", "C"]),
        (json!({up: 50}), vec!["B"]),
        (json!({up: 50.5}), vec![]),
        (json!({"Device.Enable": {"$gte": true}}), vec!["A"]),
        (json!({"Device.Enable": {"$gte": 0.5}}), vec!["A"]),
        (json!({"Device.Name._writable": {"$lt": true}}), vec!["B"]),
        (json!({"Device.Name._writable": {"$lt": 0.5}}), vec!["B"]),
        (json!({"Device.Name._writable": {"$gt": 0}}), vec!["A", "C"]),
        (
            json!({"_lastInform": {"$gte": T + 1000}}),
            vec!["B", "C", "D"],
        ),
        (
            json!({format!("{up}._timestamp"): {"$gte": T + 1000}}),
            vec!["B", "C"],
        ),
    ];
    for _ in 0..6 {
        for (filter, expected) in &cases {
            assert_eq!(
                matching(&store, filter.clone()).await,
                *expected,
                "{filter}"
            );
        }
    }
}
