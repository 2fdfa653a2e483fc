//! The ACS's parameter methods on the built-in device: GetParameterNames, GetParameterValues,
//! SetParameterValues, Get/SetParameterAttributes, AddObject, DeleteObject, with every fault
//! they can give (notes §4.2, §4.3). Every answer is checked to encode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod tree_common;

use cpe::DataModel;
use cwmp::{Body, Notification, ParameterValue as V};
use tree_common::*;

#[test]
fn gpn_empty_path() {
    let mut t = device(&builtin(), 1);
    assert_eq!(
        gpn(&mut t, "", true).unwrap(),
        [("Device.".to_owned(), false)]
    );
    let all = gpn(&mut t, "", false).unwrap();
    assert_eq!(all[0], ("Device.".to_owned(), false));
    let find = |n: &str| all.iter().find(|(name, _)| name == n).cloned();
    assert_eq!(
        find("Device.DeviceInfo."),
        Some(("Device.DeviceInfo.".into(), false))
    );
    assert_eq!(
        find("Device.WiFi.SSID."),
        Some(("Device.WiFi.SSID.".into(), true))
    );
    assert_eq!(
        find("Device.WiFi.SSID.2."),
        Some(("Device.WiFi.SSID.2.".into(), true))
    );
    assert_eq!(
        find("Device.Hosts.Host."),
        Some(("Device.Hosts.Host.".into(), false))
    );
    assert_eq!(
        find("Device.Hosts.Host.1."),
        Some(("Device.Hosts.Host.1.".into(), false))
    );
    assert_eq!(
        find("Device.ManagementServer.URL"),
        Some(("Device.ManagementServer.URL".into(), true))
    );
    assert_eq!(
        find("Device.DeviceInfo.SerialNumber"),
        Some(("Device.DeviceInfo.SerialNumber".into(), false))
    );
    // An empty table is listed, without instances.
    assert!(find("Device.NAT.PortMapping.").is_some());
    // Every parameter GetParameterValues gives, and the objects.
    let params = gpv(&mut t, &["Device."]).unwrap();
    let objects = all.iter().filter(|(n, _)| n.ends_with('.')).count();
    assert_eq!(all.len(), params.len() + objects);
    assert!(params.len() > 600, "{}", params.len());
}

#[test]
fn gpn_next_level() {
    let mut t = device(&builtin(), 1);
    let top = gpn(&mut t, "Device.", true).unwrap();
    assert!(top.contains(&("Device.RootDataModelVersion".into(), false)));
    assert!(top.contains(&("Device.DeviceInfo.".into(), false)));
    assert!(top.contains(&("Device.WiFi.".into(), false)));
    assert!(!top.iter().any(|(n, _)| n == "Device."));
    assert!(
        top.iter()
            .all(|(n, _)| n.trim_end_matches('.').matches('.').count() == 1),
        "{top:?}"
    );

    let ssids = gpn(&mut t, "Device.WiFi.SSID.", true).unwrap();
    assert_eq!(
        ssids,
        [
            ("Device.WiFi.SSID.1.".to_owned(), true),
            ("Device.WiFi.SSID.2.".to_owned(), true),
            ("Device.WiFi.SSID.3.".to_owned(), true),
        ]
    );
    let one = gpn(&mut t, "Device.WiFi.SSID.1.", true).unwrap();
    assert!(one.contains(&("Device.WiFi.SSID.1.SSID".into(), true)));
    assert!(one.contains(&("Device.WiFi.SSID.1.BSSID".into(), false)));
    assert!(one.contains(&("Device.WiFi.SSID.1.Stats.".into(), false)));
    assert!(
        !one.iter()
            .any(|(n, _)| n.starts_with("Device.WiFi.SSID.1.Stats.B"))
    );

    // A nested table below an instance is a child of the instance.
    let wan = gpn(&mut t, "Device.IP.Interface.1.", true).unwrap();
    assert!(wan.contains(&("Device.IP.Interface.1.IPv4Address.".into(), true)));

    // A table with NextLevel=false: the table, its instances, everything below.
    let all = gpn(&mut t, "Device.WiFi.SSID.", false).unwrap();
    assert_eq!(all[0], ("Device.WiFi.SSID.".into(), true));
    assert_eq!(all[1], ("Device.WiFi.SSID.1.".into(), true));
    assert!(all.contains(&("Device.WiFi.SSID.3.Stats.BytesSent".into(), false)));
}

#[test]
fn gpn_parameters_and_faults() {
    let mut t = device(&builtin(), 1);
    assert_eq!(
        gpn(&mut t, "Device.ManagementServer.URL", false).unwrap(),
        [("Device.ManagementServer.URL".into(), true)]
    );
    assert_eq!(gpn(&mut t, "Device.ManagementServer.URL", true), Err(9003));
    for bad in [
        "Device.Nope.",
        "Device.WiFi.SSID.9.",
        "Device.WiFi.SSID.01.",
        "Device.WiFi.SSID.0.",
        "Device.DeviceInfo.Nope",
        "Device.DeviceInfo",
        "Device..DeviceInfo.",
        "InternetGatewayDevice.",
        "Device.WiFi.SSID.1.Stats.BytesSent.",
        "Device.NAT.PortMapping.1.",
    ] {
        assert_eq!(gpn(&mut t, bad, false), Err(9005), "{bad}");
        assert_eq!(gpn(&mut t, bad, true), Err(9005), "{bad}");
    }
}

#[test]
fn gpv_names_paths_and_hidden_values() {
    let mut t = device(&builtin(), 7);
    let v = gpv(
        &mut t,
        &[
            "Device.DeviceInfo.SerialNumber",
            "Device.ManagementServer.",
            "Device.DeviceInfo.UpTime",
        ],
    )
    .unwrap();
    assert_eq!(
        v[0],
        ("Device.DeviceInfo.SerialNumber".into(), s("SIM000000007"))
    );
    assert_eq!(v[1].0, "Device.ManagementServer.EnableCWMP");
    assert_eq!(
        v.last().unwrap(),
        &("Device.DeviceInfo.UpTime".into(), V::UnsignedInt(0))
    );
    let get = |n: &str| v.iter().find(|(name, _)| name == n).unwrap().1.clone();
    // Hidden: empty, although the device knows the value.
    assert_eq!(
        get("Device.ManagementServer.ConnectionRequestPassword"),
        s("")
    );
    assert_eq!(
        t.raw_value("Device.ManagementServer.ConnectionRequestPassword", T0),
        Some(s("cr-SIM000000007"))
    );
    assert_eq!(
        get("Device.ManagementServer.PeriodicInformEnable"),
        V::Boolean(true)
    );
    assert_eq!(
        get("Device.ManagementServer.PeriodicInformInterval"),
        V::UnsignedInt(3600)
    );
    assert_eq!(
        get("Device.ManagementServer.Username"),
        s("02C0DE-SIM000000007")
    );
    assert_eq!(
        get("Device.ManagementServer.ConnectionRequestURL"),
        s("http://100.64.0.9:7547/")
    );
    assert!(
        matches!(get("Device.ManagementServer.PeriodicInformTime"), V::DateTime(d) if d.is_unknown())
    );
    // Secured: also empty.
    assert_eq!(
        get_one(&mut t, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"),
        s("")
    );
    // Tables in instance order.
    let hosts = gpv(&mut t, &["Device.Hosts.Host."]).unwrap();
    let names: Vec<&str> = hosts
        .iter()
        .filter(|(n, _)| n.ends_with(".HostName"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Device.Hosts.Host.1.HostName",
            "Device.Hosts.Host.2.HostName",
            "Device.Hosts.Host.3.HostName"
        ]
    );
    // An empty table is no error.
    assert_eq!(gpv(&mut t, &["Device.NAT.PortMapping."]).unwrap(), []);
    // The whole tree.
    assert!(gpv(&mut t, &[""]).unwrap().len() > 600);
}

fn get_one(t: &mut cpe::tree::Tree, name: &str) -> V<'static> {
    get(t, name)
}

#[test]
fn gpv_unknown_name_fails_the_request() {
    let mut t = device(&builtin(), 1);
    assert_eq!(
        gpv(
            &mut t,
            &["Device.DeviceInfo.UpTime", "Device.DeviceInfo.Nope"]
        ),
        Err(9005)
    );
    assert_eq!(gpv(&mut t, &["Device.WiFi.SSID.4.SSID"]), Err(9005));
    assert_eq!(gpv(&mut t, &["Device.WiFi.SSID.{i}.SSID"]), Err(9005));
}

#[test]
fn spv_applies_and_sets_parameter_key() {
    let mut t = device(&builtin(), 1);
    spv(
        &mut t,
        &[
            (
                "Device.ManagementServer.URL",
                s("https://acs.example.net/cwmp"),
            ),
            (
                "Device.ManagementServer.PeriodicInformInterval",
                V::UnsignedInt(300),
            ),
            ("Device.WiFi.SSID.1.SSID", s("home")),
        ],
        "k1",
    )
    .unwrap();
    assert_eq!(parameter_key(&t), "k1");
    assert_eq!(get(&mut t, "Device.ManagementServer.ParameterKey"), s("k1"));
    assert_eq!(
        get(&mut t, "Device.ManagementServer.URL"),
        s("https://acs.example.net/cwmp")
    );
    assert_eq!(
        get(&mut t, "Device.ManagementServer.PeriodicInformInterval"),
        V::UnsignedInt(300)
    );
    assert_eq!(get(&mut t, "Device.WiFi.SSID.1.SSID"), s("home"));
    assert_eq!(
        t.management_text("URL", T0).unwrap(),
        "https://acs.example.net/cwmp"
    );
    // An empty ParameterList succeeds and still sets the key.
    spv(&mut t, &[], "k2").unwrap();
    assert_eq!(parameter_key(&t), "k2");
    // Setting a hidden value works; it still reads back empty.
    spv(
        &mut t,
        &[("Device.ManagementServer.Password", s("pw"))],
        "k3",
    )
    .unwrap();
    assert_eq!(get(&mut t, "Device.ManagementServer.Password"), s(""));
    assert_eq!(t.management_text("Password", T0).unwrap(), "pw");
}

#[test]
fn spv_lenient_typing_and_canonical_values() {
    let mut t = device(&builtin(), 1);
    // xsd:string carrying a valid number or boolean (GenieACS sends these).
    spv(
        &mut t,
        &[
            ("Device.ManagementServer.PeriodicInformInterval", s("600")),
            ("Device.ManagementServer.PeriodicInformEnable", s("0")),
            (
                "Device.ManagementServer.STUNMaximumKeepAlivePeriod",
                V::UnsignedInt(30),
            ),
            ("Device.ManagementServer.DelayReboot", V::Long(-1)),
            (
                "Device.ManagementServer.ScheduleReboot",
                s("2030-01-02T03:04:05Z"),
            ),
        ],
        "",
    )
    .unwrap();
    assert_eq!(
        get(&mut t, "Device.ManagementServer.PeriodicInformInterval"),
        V::UnsignedInt(600)
    );
    assert_eq!(
        get(&mut t, "Device.ManagementServer.PeriodicInformEnable"),
        V::Boolean(false)
    );
    // Stored canonically.
    let state = t.overlay_state();
    assert_eq!(
        state.values["Device.ManagementServer.PeriodicInformEnable"],
        "false"
    );
    assert_eq!(
        state.values["Device.ManagementServer.PeriodicInformInterval"],
        "600"
    );
    assert!(matches!(
        get(&mut t, "Device.ManagementServer.ScheduleReboot"),
        V::DateTime(d) if d.unix_timestamp() == 1_893_553_445
    ));
}

#[test]
fn spv_fault_per_parameter() {
    let mut t = device(&builtin(), 1);
    let cases: Vec<(&str, V<'static>, u32)> = vec![
        ("Device.DeviceInfo.Nope", s("x"), 9005),
        ("Device.ManagementServer.", s("x"), 9005),
        ("Device.WiFi.SSID.9.SSID", s("x"), 9005),
        ("Device.DeviceInfo.SerialNumber", s("x"), 9008),
        ("Device.DeviceInfo.UpTime", V::UnsignedInt(1), 9008),
        ("Device.WiFi.SSIDNumberOfEntries", V::UnsignedInt(1), 9008),
        ("Device.ManagementServer.ParameterKey", s("x"), 9008),
        (
            "Device.ManagementServer.PeriodicInformInterval",
            V::Boolean(true),
            9006,
        ),
        ("Device.ManagementServer.URL", V::Int(5), 9006),
        (
            "Device.ManagementServer.PeriodicInformEnable",
            V::Int(1),
            9006,
        ),
        (
            "Device.ManagementServer.ScheduleReboot",
            V::Boolean(false),
            9006,
        ),
        (
            "Device.ManagementServer.PeriodicInformInterval",
            V::UnsignedInt(0),
            9007,
        ),
        (
            "Device.ManagementServer.PeriodicInformInterval",
            s("abc"),
            9007,
        ),
        (
            "Device.ManagementServer.PeriodicInformInterval",
            V::Int(-5),
            9007,
        ),
        (
            "Device.ManagementServer.PeriodicInformInterval",
            V::from_text("xsd:unsignedInt", "-1".into()),
            9007,
        ),
        (
            "Device.ManagementServer.CWMPRetryIntervalMultiplier",
            V::UnsignedInt(999),
            9007,
        ),
        ("Device.ManagementServer.InstanceMode", s("Foo"), 9007),
        (
            "Device.ManagementServer.PeriodicInformEnable",
            s("yes"),
            9007,
        ),
        (
            "Device.ManagementServer.ScheduleReboot",
            s("tomorrow"),
            9007,
        ),
        ("Device.WiFi.SSID.1.SSID", s(&"x".repeat(33)), 9007),
        (
            "Device.WiFi.AccessPoint.1.Security.KeyPassphrase",
            s("short"),
            9007,
        ),
        ("Device.WiFi.Radio.1.Channel", V::UnsignedInt(0), 9007),
        ("Device.WiFi.Radio.1.OperatingStandards", s("g,n,zz"), 9007),
        ("Device.WiFi.Radio.1.RegulatoryDomain", s("de "), 9007),
        (
            "Device.IP.Diagnostics.IPPing.DiagnosticsState",
            s("Complete"),
            9007,
        ),
        (
            "Device.IP.Diagnostics.IPPing.DiagnosticsState",
            s("Bogus"),
            9007,
        ),
    ];
    for (name, value, code) in cases {
        let body = spv_body(&mut t, &[(name, value.clone())], "bad");
        assert_eq!(fault_code(&body), Some(9003), "{name} {value:?}");
        assert_eq!(
            spv_faults(&body),
            [(name.to_owned(), code)],
            "{name} {value:?}"
        );
    }
    assert_eq!(parameter_key(&t), "");
    assert!(t.overlay_state().values.is_empty());
}

#[test]
fn spv_is_all_or_nothing() {
    let mut t = device(&builtin(), 1);
    let body = spv_body(
        &mut t,
        &[
            ("Device.ManagementServer.URL", s("http://new/")),
            (
                "Device.ManagementServer.PeriodicInformInterval",
                V::UnsignedInt(0),
            ),
            ("Device.DeviceInfo.SerialNumber", s("x")),
            ("Device.Nope", s("x")),
            (
                "Device.ManagementServer.PeriodicInformEnable",
                V::DateTime(cwmp::DateTime::UNKNOWN),
            ),
        ],
        "k",
    );
    assert_eq!(fault_code(&body), Some(9003));
    assert_eq!(
        spv_faults(&body),
        [
            (
                "Device.ManagementServer.PeriodicInformInterval".into(),
                9007
            ),
            ("Device.DeviceInfo.SerialNumber".into(), 9008),
            ("Device.Nope".into(), 9005),
            ("Device.ManagementServer.PeriodicInformEnable".into(), 9006),
        ]
    );
    assert_eq!(
        get(&mut t, "Device.ManagementServer.URL"),
        s("http://127.0.0.1:7547/")
    );
    assert_eq!(parameter_key(&t), "");

    // The same name twice: 9003, nothing applied.
    let body = spv_body(
        &mut t,
        &[
            ("Device.ManagementServer.URL", s("http://a/")),
            ("Device.ManagementServer.URL", s("http://b/")),
        ],
        "k",
    );
    assert_eq!(fault_code(&body), Some(9003));
    assert_eq!(
        spv_faults(&body),
        [("Device.ManagementServer.URL".into(), 9003)]
    );
    assert_eq!(
        get(&mut t, "Device.ManagementServer.URL"),
        s("http://127.0.0.1:7547/")
    );

    // ParameterKey longer than 32 characters.
    let body = spv_body(
        &mut t,
        &[("Device.ManagementServer.URL", s("http://a/"))],
        &"k".repeat(33),
    );
    assert_eq!(fault_code(&body), Some(9003));
    assert_eq!(
        get(&mut t, "Device.ManagementServer.URL"),
        s("http://127.0.0.1:7547/")
    );
}

#[test]
fn spv_diagnostics_requested() {
    let mut t = device(&builtin(), 1);
    assert!(t.requested_diagnostics().is_empty());
    spv(
        &mut t,
        &[
            ("Device.IP.Diagnostics.IPPing.Host", s("192.0.2.1")),
            (
                "Device.IP.Diagnostics.IPPing.DiagnosticsState",
                s("Requested"),
            ),
            (
                "Device.IP.Diagnostics.TraceRoute.DiagnosticsState",
                s("Requested"),
            ),
        ],
        "diag",
    )
    .unwrap();
    assert_eq!(
        t.requested_diagnostics(),
        [
            "Device.IP.Diagnostics.IPPing.DiagnosticsState",
            "Device.IP.Diagnostics.TraceRoute.DiagnosticsState"
        ]
    );
    // The device completes one: read-only enumeration values are allowed for it.
    assert!(t.set_value(
        "Device.IP.Diagnostics.IPPing.DiagnosticsState",
        s("Complete"),
        T0
    ));
    assert_eq!(
        t.requested_diagnostics(),
        ["Device.IP.Diagnostics.TraceRoute.DiagnosticsState"]
    );
}

#[test]
fn attributes_defaults_and_changes() {
    let mut t = device(&builtin(), 1);
    let attrs = gpa(
        &mut t,
        &[
            "Device.ManagementServer.URL",
            "Device.ManagementServer.ConnectionRequestURL",
            "Device.DeviceInfo.SoftwareVersion",
        ],
    )
    .unwrap();
    assert_eq!(
        attrs,
        [
            ("Device.ManagementServer.URL".into(), 0, vec![]),
            (
                "Device.ManagementServer.ConnectionRequestURL".into(),
                2,
                vec![]
            ),
            ("Device.DeviceInfo.SoftwareVersion".into(), 2, vec![]),
        ]
    );
    spa(
        &mut t,
        vec![spa_struct(
            "Device.ManagementServer.URL",
            Some(Notification::Passive),
            Some(&["Subscriber"]),
        )],
    )
    .unwrap();
    assert_eq!(
        gpa(&mut t, &["Device.ManagementServer.URL"]).unwrap(),
        [(
            "Device.ManagementServer.URL".into(),
            1,
            vec!["Subscriber".into()]
        )]
    );
    // NotificationChange=false leaves the notification; AccessListChange alone.
    spa(
        &mut t,
        vec![spa_struct("Device.ManagementServer.URL", None, Some(&[]))],
    )
    .unwrap();
    assert_eq!(
        gpa(&mut t, &["Device.ManagementServer.URL"]).unwrap(),
        [("Device.ManagementServer.URL".into(), 1, vec![])]
    );
    // forceDefaultEnabled may be turned off; lightweight values are kept.
    spa(
        &mut t,
        vec![
            spa_struct(
                "Device.ManagementServer.ConnectionRequestURL",
                Some(Notification::Off),
                None,
            ),
            spa_struct(
                "Device.ManagementServer.Username",
                Some(Notification::PassiveAndPassiveLightweight),
                None,
            ),
        ],
    )
    .unwrap();
    let attrs = gpa(
        &mut t,
        &[
            "Device.ManagementServer.ConnectionRequestURL",
            "Device.ManagementServer.Username",
        ],
    )
    .unwrap();
    assert_eq!((attrs[0].1, attrs[1].1), (0, 4));
    // Back to the default: the overlay forgets it.
    spa(
        &mut t,
        vec![
            spa_struct("Device.ManagementServer.URL", Some(Notification::Off), None),
            spa_struct(
                "Device.ManagementServer.ConnectionRequestURL",
                Some(Notification::Active),
                None,
            ),
            spa_struct(
                "Device.ManagementServer.Username",
                Some(Notification::Off),
                None,
            ),
        ],
    )
    .unwrap();
    assert!(t.overlay_state().attributes.is_empty());
}

#[test]
fn attributes_9009_and_partial_paths() {
    let mut t = device(&builtin(), 1);
    // canDeny refuses active; forceEnabled refuses anything but active.
    for (name, n) in [
        ("Device.DeviceInfo.UpTime", Notification::Active),
        ("Device.DeviceInfo.UpTime", Notification::ActiveLightweight),
        ("Device.WiFi.SSID.1.Stats.BytesSent", Notification::Active),
        ("Device.DeviceInfo.SoftwareVersion", Notification::Off),
        ("Device.DeviceInfo.SoftwareVersion", Notification::Passive),
    ] {
        assert_eq!(
            spa(&mut t, vec![spa_struct(name, Some(n), None)]),
            Err(9009),
            "{name}"
        );
    }
    spa(
        &mut t,
        vec![spa_struct(
            "Device.DeviceInfo.UpTime",
            Some(Notification::Passive),
            None,
        )],
    )
    .unwrap();
    spa(
        &mut t,
        vec![spa_struct(
            "Device.DeviceInfo.SoftwareVersion",
            Some(Notification::Active),
            None,
        )],
    )
    .unwrap();
    // A partial path: applied where accepted, the others left alone.
    spa(
        &mut t,
        vec![spa_struct(
            "Device.DeviceInfo.",
            Some(Notification::Active),
            None,
        )],
    )
    .unwrap();
    let attrs = gpa(&mut t, &["Device.DeviceInfo."]).unwrap();
    let n = |name: &str| attrs.iter().find(|a| a.0 == name).unwrap().1;
    assert_eq!(n("Device.DeviceInfo.HardwareVersion"), 2);
    assert_eq!(n("Device.DeviceInfo.MemoryStatus.Free"), 2);
    assert_eq!(n("Device.DeviceInfo.UpTime"), 1);
    assert_eq!(n("Device.DeviceInfo.SoftwareVersion"), 2);
    spa(
        &mut t,
        vec![spa_struct(
            "Device.DeviceInfo.",
            Some(Notification::Off),
            None,
        )],
    )
    .unwrap();
    let attrs = gpa(&mut t, &["Device.DeviceInfo."]).unwrap();
    assert!(attrs.iter().all(|a| a.1 == 0
        || a.0 == "Device.DeviceInfo.SoftwareVersion"
        || a.0 == "Device.DeviceInfo.ProvisioningCode"));
    // All or nothing: a bad name fails everything.
    assert_eq!(
        spa(
            &mut t,
            vec![
                spa_struct(
                    "Device.ManagementServer.URL",
                    Some(Notification::Active),
                    None
                ),
                spa_struct("Device.Nope", Some(Notification::Active), None),
            ]
        ),
        Err(9005)
    );
    assert_eq!(
        spa(
            &mut t,
            vec![
                spa_struct(
                    "Device.ManagementServer.URL",
                    Some(Notification::Active),
                    None
                ),
                spa_struct("Device.DeviceInfo.UpTime", Some(Notification::Active), None),
            ]
        ),
        Err(9009)
    );
    assert_eq!(
        gpa(&mut t, &["Device.ManagementServer.URL"]).unwrap()[0].1,
        0
    );
    assert_eq!(gpa(&mut t, &["Device.Nope."]), Err(9005));
}

#[test]
fn add_object_numbers_defaults_and_counts() {
    let mut t = device(&builtin(), 1);
    assert_eq!(add_object(&mut t, "Device.NAT.PortMapping.", "a1"), Ok(1));
    assert_eq!(parameter_key(&t), "a1");
    assert_eq!(add_object(&mut t, "Device.NAT.PortMapping.", "a2"), Ok(2));
    assert_eq!(
        get(&mut t, "Device.NAT.PortMappingNumberOfEntries"),
        V::UnsignedInt(2)
    );
    // Defaults of new instances.
    assert_eq!(
        get(&mut t, "Device.NAT.PortMapping.2.Enable"),
        V::Boolean(false)
    );
    assert_eq!(get(&mut t, "Device.NAT.PortMapping.2.Protocol"), s("TCP"));
    assert_eq!(get(&mut t, "Device.NAT.PortMapping.2.Alias"), s("cpe-2"));
    assert_eq!(
        get(&mut t, "Device.NAT.PortMapping.2.ExternalPort"),
        V::UnsignedInt(0)
    );
    assert_eq!(
        gpn(&mut t, "Device.NAT.PortMapping.", true).unwrap(),
        [
            ("Device.NAT.PortMapping.1.".to_owned(), true),
            ("Device.NAT.PortMapping.2.".to_owned(), true)
        ]
    );
    spv(
        &mut t,
        &[
            (
                "Device.NAT.PortMapping.1.ExternalPort",
                V::UnsignedInt(8080),
            ),
            ("Device.NAT.PortMapping.1.Protocol", s("UDP")),
        ],
        "s",
    )
    .unwrap();
    // Numbers are never reused.
    delete_object(&mut t, "Device.NAT.PortMapping.2.", "d").unwrap();
    assert_eq!(parameter_key(&t), "d");
    assert_eq!(add_object(&mut t, "Device.NAT.PortMapping.", "a3"), Ok(3));
    delete_object(&mut t, "Device.NAT.PortMapping.3.", "d").unwrap();
    delete_object(&mut t, "Device.NAT.PortMapping.1.", "d").unwrap();
    assert_eq!(add_object(&mut t, "Device.NAT.PortMapping.", "a4"), Ok(4));
    assert_eq!(
        get(&mut t, "Device.NAT.PortMapping.4.ExternalPort"),
        V::UnsignedInt(0)
    );
    assert_eq!(
        get(&mut t, "Device.NAT.PortMappingNumberOfEntries"),
        V::UnsignedInt(1)
    );
    // After factory instances the next number follows the highest.
    assert_eq!(add_object(&mut t, "Device.WiFi.SSID.", "w"), Ok(4));
    assert_eq!(
        get(&mut t, "Device.WiFi.SSIDNumberOfEntries"),
        V::UnsignedInt(4)
    );
    assert_eq!(
        add_object(&mut t, "Device.IP.Interface.2.IPv4Address.", "v4"),
        Ok(2)
    );
    assert_eq!(
        get(&mut t, "Device.IP.Interface.2.IPv4AddressNumberOfEntries"),
        V::UnsignedInt(2)
    );
    assert_eq!(
        get(&mut t, "Device.IP.Interface.1.IPv4AddressNumberOfEntries"),
        V::UnsignedInt(1)
    );
    // A new instance's sub-tables start empty.
    assert_eq!(add_object(&mut t, "Device.IP.Interface.", "if"), Ok(3));
    assert_eq!(
        gpn(&mut t, "Device.IP.Interface.3.IPv4Address.", true).unwrap(),
        []
    );
    assert_eq!(
        add_object(&mut t, "Device.IP.Interface.3.IPv4Address.", "v4"),
        Ok(1)
    );
}

#[test]
fn add_object_faults() {
    let mut t = device(&builtin(), 1);
    for bad in [
        "Device.Nope.",
        "Device.DeviceInfo.",
        "Device.WiFi.SSID.1.",
        "Device.ManagementServer.URL",
        "Device.NAT.PortMapping",
        "Device.IP.Interface.7.IPv4Address.",
        "",
        "Device.Hosts.Host.",
        "Device.SoftwareModules.DeploymentUnit.",
    ] {
        assert_eq!(add_object(&mut t, bad, "k"), Err(9005), "{bad:?}");
    }
    assert_eq!(
        add_object(&mut t, "Device.NAT.PortMapping.", &"k".repeat(33)),
        Err(9003)
    );
    assert_eq!(parameter_key(&t), "");
    // maxEntries (32 in the built-in profile alone).
    for n in 1..=32 {
        assert_eq!(add_object(&mut t, "Device.NAT.PortMapping.", "k"), Ok(n));
    }
    assert_eq!(
        add_object(&mut t, "Device.NAT.PortMapping.", "full"),
        Err(9004)
    );
    assert_eq!(parameter_key(&t), "k");
}

#[test]
fn delete_object_subtree_and_faults() {
    let mut t = device(&builtin(), 1);
    spv(&mut t, &[("Device.WiFi.SSID.3.SSID", s("guest"))], "s").unwrap();
    spa(
        &mut t,
        vec![spa_struct(
            "Device.WiFi.SSID.3.",
            Some(Notification::Passive),
            None,
        )],
    )
    .unwrap();
    delete_object(&mut t, "Device.WiFi.SSID.3.", "d1").unwrap();
    assert_eq!(parameter_key(&t), "d1");
    assert_eq!(
        get(&mut t, "Device.WiFi.SSIDNumberOfEntries"),
        V::UnsignedInt(2)
    );
    assert_eq!(gpv(&mut t, &["Device.WiFi.SSID.3.SSID"]), Err(9005));
    assert_eq!(gpv(&mut t, &["Device.WiFi.SSID.3."]), Err(9005));
    let state = t.overlay_state();
    assert!(
        !state
            .values
            .keys()
            .any(|k| k.starts_with("Device.WiFi.SSID.3."))
    );
    assert!(
        !state
            .attributes
            .keys()
            .any(|k| k.starts_with("Device.WiFi.SSID.3."))
    );
    assert_eq!(
        delete_object(&mut t, "Device.WiFi.SSID.3.", "d2"),
        Err(9005)
    );
    assert_eq!(parameter_key(&t), "d1");

    // Deleting an interface takes its addresses with it.
    delete_object(&mut t, "Device.IP.Interface.1.", "d3").unwrap();
    assert_eq!(
        gpv(&mut t, &["Device.IP.Interface.1.IPv4Address.1.IPAddress"]),
        Err(9005)
    );
    assert_eq!(gpn(&mut t, "Device.IP.Interface.", true).unwrap().len(), 1);

    for bad in [
        "Device.WiFi.SSID.",
        "Device.WiFi.SSID.9.",
        "Device.DeviceInfo.",
        "Device.WiFi.SSID.1",
        "Device.WiFi.SSID.1.SSID",
        "Device.Hosts.Host.1.",
        "Device.",
    ] {
        assert_eq!(delete_object(&mut t, bad, "k"), Err(9005), "{bad}");
    }
    assert_eq!(
        delete_object(&mut t, "Device.WiFi.SSID.1.", &"k".repeat(33)),
        Err(9003)
    );
    assert_eq!(parameter_key(&t), "d3");
}

#[test]
fn write_once_alias() {
    for template in [builtin(), builtin_tr181()] {
        let mut t = device(&template, 1);
        let n = add_object(&mut t, "Device.NAT.PortMapping.", "a").unwrap();
        let alias = format!("Device.NAT.PortMapping.{n}.Alias");
        assert_eq!(get(&mut t, &alias), s(&format!("cpe-{n}")));
        assert_eq!(gpn(&mut t, &alias, false).unwrap(), [(alias.clone(), true)]);
        spv(&mut t, &[(alias.as_str(), s("web"))], "b").unwrap();
        assert_eq!(get(&mut t, &alias), s("web"));
        assert_eq!(
            gpn(&mut t, &alias, false).unwrap(),
            [(alias.clone(), false)]
        );
        let body = spv_body(&mut t, &[(alias.as_str(), s("other"))], "c");
        assert_eq!(spv_faults(&body), [(alias.clone(), 9008)]);
    }
}

#[test]
fn other_messages_are_not_parameter_methods() {
    let mut t = device(&builtin(), 1);
    let reboot = Body::Reboot(cwmp::Reboot {
        command_key: "x".into(),
    });
    assert!(t.handle_parameter_rpc(&reboot, T0).is_none());
    assert!(
        t.handle_parameter_rpc(&Body::GetRPCMethods(cwmp::GetRPCMethods {}), T0)
            .is_none()
    );
}

#[test]
fn faults_encode_with_client_and_server_codes() {
    let mut t = device(&builtin(), 1);
    let body = spv_body(
        &mut t,
        &[(
            "Device.ManagementServer.PeriodicInformInterval",
            V::Boolean(true),
        )],
        "k",
    );
    for ns in cwmp::Namespace::ALL {
        cwmp::Envelope::new(ns, Some("7".into()), body.clone())
            .encode()
            .unwrap();
    }
    let Body::Fault(f) = &body else { panic!() };
    assert_eq!(f.faultcode, cwmp::SoapFaultCode::Client);
    let Body::Fault(f) = rpc(
        &mut t,
        cwmp::SetParameterAttributes {
            parameter_list: vec![spa_struct(
                "Device.DeviceInfo.UpTime",
                Some(Notification::Active),
                None,
            )],
        },
    ) else {
        panic!()
    };
    assert_eq!(f.faultcode, cwmp::SoapFaultCode::Server);
    assert_eq!(
        f.code(),
        Some(cwmp::FaultCode::NOTIFICATION_REQUEST_REJECTED)
    );
}

#[test]
fn diagnostics_state_resets_when_parameters_change() {
    let mut t = device(&builtin(), 1);
    let ping = "Device.IP.Diagnostics.IPPing.";
    spv(
        &mut t,
        &[(&format!("{ping}DiagnosticsState"), s("Requested"))],
        "a",
    )
    .unwrap();
    // Another writable parameter of the object alone: back to None (test terminated).
    spv(&mut t, &[(&format!("{ping}Host"), s("192.0.2.9"))], "b").unwrap();
    assert_eq!(get(&mut t, &format!("{ping}DiagnosticsState")), s("None"));
    // Both in one request: Requested stays.
    spv(
        &mut t,
        &[
            (&format!("{ping}Host"), s("192.0.2.10")),
            (&format!("{ping}DiagnosticsState"), s("Requested")),
        ],
        "c",
    )
    .unwrap();
    assert_eq!(
        get(&mut t, &format!("{ping}DiagnosticsState")),
        s("Requested")
    );
    // Results completed by the device are reset by a parameter change too.
    t.set_value(&format!("{ping}DiagnosticsState"), s("Complete"), T0);
    spv(
        &mut t,
        &[(&format!("{ping}Timeout"), V::UnsignedInt(2000))],
        "d",
    )
    .unwrap();
    assert_eq!(get(&mut t, &format!("{ping}DiagnosticsState")), s("None"));
    // Other objects are untouched.
    spv(
        &mut t,
        &[(
            "Device.IP.Diagnostics.TraceRoute.DiagnosticsState",
            s("Requested"),
        )],
        "e",
    )
    .unwrap();
    spv(&mut t, &[(&format!("{ping}Host"), s("x"))], "f").unwrap();
    assert_eq!(
        get(&mut t, "Device.IP.Diagnostics.TraceRoute.DiagnosticsState"),
        s("Requested")
    );
}

#[test]
fn inform_parameter_table_rules() {
    for template in [builtin(), builtin_tr181()] {
        let mut t = device(&template, 1);
        let n = add_object(&mut t, "Device.ManagementServer.InformParameter.", "k").unwrap();
        let base = format!("Device.ManagementServer.InformParameter.{n}.");
        for (name, value) in [
            ("ParameterName", "Device.DeviceInfo.SoftwareVersion"),
            ("ParameterName", "Device.ManagementServer.ParameterKey"),
            ("ParameterName", "Device.*.SSID.1.SSID"),
            ("EventList", "1 BOOT,4 VALUE CHANGE"),
        ] {
            let full = format!("{base}{name}");
            let body = spv_body(&mut t, &[(&full, s(value))], "k");
            assert_eq!(spv_faults(&body), [(full.clone(), 9007)], "{value}");
        }
        spv(
            &mut t,
            &[
                (
                    &format!("{base}ParameterName"),
                    s("Device.WiFi.SSID.*.SSID"),
                ),
                (&format!("{base}EventList"), s("1 BOOT,2 PERIODIC")),
                (&format!("{base}Enable"), V::Boolean(true)),
            ],
            "k",
        )
        .unwrap();
    }
}

/// Names the ACS sent with characters XML 1.0 cannot carry (the decoder lets a raw control
/// character through): the faults that echo them still encode (found by the tree_rpc fuzz
/// target).
#[test]
fn faults_echoing_unsendable_characters_encode() {
    let mut t = device(&builtin(), 1);
    let bad = "Device.WiFi\u{5}.SSID.1.SSID";
    assert_eq!(gpv(&mut t, &["Device.DeviceInfo.", bad]), Err(9005));
    assert!(gpn(&mut t, bad, false).is_err());
    assert!(gpn(&mut t, "Device.WiFi.SSID.1.\u{1}", true).is_err());
    let body = spv_body(&mut t, &[(bad, s("x"))], "k");
    assert_eq!(spv_faults(&body).len(), 1);
    let body = spv_body(
        &mut t,
        &[("Device.WiFi.SSID.1.SSID", s("bad\u{1b}value"))],
        "k",
    );
    assert_eq!(
        spv_faults(&body),
        [("Device.WiFi.SSID.1.SSID".to_owned(), 9007)]
    );
    assert!(add_object(&mut t, "Device.NAT.\u{0}PortMapping.", "k").is_err());
    assert!(delete_object(&mut t, "Device.NAT.PortMapping.\u{fffe}.", "k").is_err());
}
