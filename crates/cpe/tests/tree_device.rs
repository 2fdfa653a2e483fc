//! What the device does to its own tree: identity and placeholders, computed values,
//! changes and notifications, the Inform's parameters, reboot, factory reset, and saving
//! and restoring the overlay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod tree_common;

use std::sync::Arc;

use cpe::data_model::PendingChanges;
use cpe::tree::{OverlayState, Tree};
use cpe::{DataModel, Time};
use cwmp::{Notification, ParameterValue as V};
use tree_common::*;

#[test]
fn identity_and_placeholders() {
    let t = builtin();
    let mut a = device(&t, 1);
    let mut b = device(&t, 2);
    let id = a.device_id();
    assert_eq!(id.manufacturer, "SimNet Devices");
    assert_eq!(id.oui, "02C0DE");
    assert_eq!(id.product_class, "HG4000");
    assert_eq!(id.serial_number, "SIM000000001");
    assert_eq!(
        get(&mut a, "Device.DeviceInfo.SerialNumber"),
        s("SIM000000001")
    );
    assert_eq!(
        get(&mut a, "Device.DeviceInfo.ManufacturerOUI"),
        s("02C0DE")
    );
    assert_eq!(
        get(&mut a, "Device.Ethernet.Interface.1.MACAddress"),
        s("02:C0:DE:00:00:10")
    );
    assert_eq!(
        get(&mut b, "Device.Ethernet.Interface.1.MACAddress"),
        s("02:C0:DE:00:00:20")
    );
    assert_eq!(get(&mut a, "Device.WiFi.SSID.2.SSID"), s("SimNet-1-5G"));
    assert_eq!(
        get(&mut b, "Device.IP.Interface.1.IPv4Address.1.IPAddress"),
        s("100.64.0.4")
    );
    let ua = get(&mut a, "Device.SoftwareModules.DeploymentUnit.1.UUID");
    let ub = get(&mut b, "Device.SoftwareModules.DeploymentUnit.1.UUID");
    assert_ne!(ua, ub);
    // The identity wins over the profile: DeviceInfo equals the Inform's DeviceId.
    let mut custom = t.identity(3, "XYZ");
    custom.manufacturer = "Other".into();
    let mut c = Tree::new(Arc::clone(&t), custom, T0);
    assert_eq!(get(&mut c, "Device.DeviceInfo.Manufacturer"), s("Other"));
    assert_eq!(
        get(&mut c, "Device.ManagementServer.Username"),
        s("02C0DE-XYZ")
    );
    assert!(!c.set_value("Device.DeviceInfo.SerialNumber", s("ABC"), T0));
}

#[test]
fn computed_values() {
    let t = builtin();
    let mut a = device(&t, 1);
    let later = T0.plus_secs(100);
    assert_eq!(
        a.value("Device.DeviceInfo.UpTime", later),
        Some(V::UnsignedInt(100))
    );
    let now = a.value("Device.Time.CurrentLocalTime", later).unwrap();
    assert_eq!(now, V::DateTime(later.to_datetime()));
    let bytes =
        |t: &Tree, at: Time| match t.value("Device.Ethernet.Interface.1.Stats.BytesSent", at) {
            Some(V::UnsignedLong(v)) => v,
            other => panic!("{other:?}"),
        };
    let packets =
        |t: &Tree, at: Time| match t.value("Device.Ethernet.Interface.1.Stats.PacketsSent", at) {
            Some(V::UnsignedLong(v)) => v,
            other => panic!("{other:?}"),
        };
    assert_eq!(bytes(&a, T0), 0);
    let b100 = bytes(&a, later);
    let b200 = bytes(&a, T0.plus_secs(200));
    assert!(b100 > 0 && b200 == 2 * b100, "{b100} {b200}");
    assert!(packets(&a, later) > 0 && packets(&a, later) < b100);
    // Deterministic per device, different between devices and interfaces.
    assert_eq!(bytes(&device(&t, 1), later), b100);
    assert_ne!(bytes(&device(&t, 2), later), b100);
    assert_ne!(
        a.value("Device.Ethernet.Interface.2.Stats.BytesSent", later),
        Some(V::UnsignedLong(b100))
    );
    // A reboot starts from zero again.
    a.reboot(later);
    assert_eq!(a.boot_time(), later);
    assert_eq!(
        a.value("Device.DeviceInfo.UpTime", later),
        Some(V::UnsignedInt(0))
    );
    assert_eq!(bytes(&a, later), 0);
    // Setting UpTime moves the boot time.
    assert!(a.set_value("Device.DeviceInfo.UpTime", V::UnsignedInt(50), later));
    assert_eq!(
        a.value("Device.DeviceInfo.UpTime", later),
        Some(V::UnsignedInt(50))
    );
    // NumberOfEntries cannot be set by hand.
    assert!(!a.set_value("Device.WiFi.SSIDNumberOfEntries", V::UnsignedInt(9), later));
    // Through GetParameterValues at a later time.
    let v = gpv_at(&mut a, &["Device.DeviceInfo.UpTime"], later.plus_secs(1)).unwrap();
    assert_eq!(v[0].1, V::UnsignedInt(51));
}

#[test]
fn device_changes_and_notifications() {
    let mut t = device(&builtin(), 1);
    assert_eq!(t.pending_changes(), PendingChanges::default());
    // Notification off: no record.
    assert!(t.set_value("Device.DeviceInfo.HostName", s("box"), T0));
    assert_eq!(t.pending_changes(), PendingChanges::default());
    assert_eq!(t.value("Device.DeviceInfo.HostName", T0), Some(s("box")));
    // Unknown names and values that do not fit are refused.
    assert!(!t.set_value("Device.DeviceInfo.Nope", s("x"), T0));
    assert!(!t.set_value("Device.ManagementServer.PeriodicInformInterval", s("x"), T0));
    assert!(!t.set_value("Device.DeviceInfo.", s("x"), T0));

    spa(
        &mut t,
        vec![
            spa_struct(
                "Device.DeviceInfo.HostName",
                Some(Notification::Passive),
                None,
            ),
            spa_struct(
                "Device.Time.LocalTimeZone",
                Some(Notification::Active),
                None,
            ),
        ],
    )
    .unwrap();
    assert!(t.set_value("Device.DeviceInfo.HostName", s("box2"), T0));
    assert_eq!(
        t.pending_changes(),
        PendingChanges {
            any: true,
            active: false
        }
    );
    // The same value again is no change.
    t.clear_changes();
    assert!(t.set_value("Device.DeviceInfo.HostName", s("box2"), T0));
    assert_eq!(t.pending_changes(), PendingChanges::default());
    assert!(t.set_value("Device.Time.LocalTimeZone", s("UTC0"), T0));
    assert_eq!(
        t.pending_changes(),
        PendingChanges {
            any: true,
            active: true
        }
    );
    // forceEnabled: always active, no attribute needed (a firmware upgrade).
    t.clear_changes();
    assert!(t.set_value("Device.DeviceInfo.SoftwareVersion", s("4.3.0"), T0));
    assert!(t.pending_changes().active);
    // Changes by the ACS are not notified back.
    t.clear_changes();
    spv(&mut t, &[("Device.Time.LocalTimeZone", s("CET-1"))], "k").unwrap();
    assert_eq!(t.pending_changes(), PendingChanges::default());
    // A forceDefaultEnabled parameter changed by the device (the agent moves the CR URL).
    assert!(t.set_management_value("ConnectionRequestURL", s("http://10.0.0.9:7547/"), T0));
    assert!(t.pending_changes().active);
}

#[test]
fn inform_parameters_forced_then_changed() {
    let mut t = device(&builtin(), 1);
    let names = |t: &Tree| -> Vec<String> {
        t.inform_parameters(T0)
            .into_iter()
            .map(|p| p.name.into_owned())
            .collect()
    };
    let forced = [
        "Device.RootDataModelVersion",
        "Device.DeviceInfo.HardwareVersion",
        "Device.DeviceInfo.SoftwareVersion",
        "Device.DeviceInfo.ProvisioningCode",
        "Device.ManagementServer.ParameterKey",
        "Device.ManagementServer.ConnectionRequestURL",
        "Device.ManagementServer.AliasBasedAddressing",
    ];
    assert_eq!(names(&t), forced);
    let params = t.inform_parameters(T0);
    assert_eq!(params[0].value, s("2.17"));
    assert_eq!(params[6].value, V::Boolean(false));

    spa(
        &mut t,
        vec![
            spa_struct(
                "Device.ManagementServer.Password",
                Some(Notification::Passive),
                None,
            ),
            spa_struct("Device.WiFi.SSID.2.SSID", Some(Notification::Passive), None),
        ],
    )
    .unwrap();
    assert!(t.set_value("Device.WiFi.SSID.2.SSID", s("new"), T0));
    assert!(t.set_value("Device.ManagementServer.Password", s("secret"), T0));
    assert!(t.set_value("Device.DeviceInfo.SoftwareVersion", s("4.3.0"), T0));
    let list = t.inform_parameters(T0);
    let got: Vec<&str> = list.iter().map(|p| p.name.as_ref()).collect();
    let mut expected: Vec<&str> = forced.to_vec();
    // Changed parameters follow in tree order; SoftwareVersion is not repeated.
    expected.extend([
        "Device.ManagementServer.Password",
        "Device.WiFi.SSID.2.SSID",
    ]);
    assert_eq!(got, expected);
    assert_eq!(list[2].value, s("4.3.0"));
    assert_eq!(
        list[7].value,
        s(""),
        "hidden values stay hidden in the Inform"
    );
    assert_eq!(list[8].value, s("new"));
    let env = cwmp::Envelope::new(
        cwmp::Namespace::Cwmp1_0,
        None,
        cwmp::Inform {
            device_id: t.device_id(),
            event: vec![cwmp::EventStruct::new("4 VALUE CHANGE")],
            max_envelopes: 1,
            current_time: T0.to_datetime(),
            retry_count: 0,
            parameter_list: list,
        },
    );
    env.encode().unwrap();
    t.clear_changes();
    assert_eq!(names(&t), forced);
}

#[test]
fn device_instances() {
    let mut t = device(&builtin(), 1);
    spa(
        &mut t,
        vec![spa_struct(
            "Device.Hosts.HostNumberOfEntries",
            Some(Notification::Active),
            None,
        )],
    )
    .unwrap();
    // Hosts.Host is read-only for the ACS, not for the device.
    assert_eq!(t.add_instance("Device.Hosts.Host.", T0), Some(4));
    assert!(t.pending_changes().active);
    assert!(t.set_value("Device.Hosts.Host.4.HostName", s("tv"), T0));
    assert_eq!(
        t.instance_numbers("Device.Hosts.Host."),
        Some(vec![1, 2, 3, 4])
    );
    assert_eq!(
        get(&mut t, "Device.Hosts.HostNumberOfEntries"),
        V::UnsignedInt(4)
    );
    let inform: Vec<String> = t
        .inform_parameters(T0)
        .into_iter()
        .map(|p| p.name.into_owned())
        .collect();
    assert!(inform.contains(&"Device.Hosts.HostNumberOfEntries".to_owned()));
    t.clear_changes();
    assert!(t.delete_instance("Device.Hosts.Host.1.", T0));
    assert!(t.pending_changes().active);
    assert!(!t.delete_instance("Device.Hosts.Host.1.", T0));
    assert!(!t.delete_instance("Device.Hosts.Host.", T0));
    assert!(!t.delete_instance("Device.DeviceInfo.", T0));
    assert_eq!(t.add_instance("Device.Hosts.Host.", T0), Some(5));
    assert_eq!(t.add_instance("Device.Nope.", T0), None);
    assert_eq!(t.add_instance("Device.Hosts.Host.2.", T0), None);
    // Deployment units: created by the device for ChangeDUState.
    assert_eq!(
        t.add_instance("Device.SoftwareModules.DeploymentUnit.", T0),
        Some(2)
    );
    assert!(t.set_value(
        "Device.SoftwareModules.DeploymentUnit.2.Status",
        s("Installed"),
        T0
    ));
    assert!(t.exists("Device.SoftwareModules.DeploymentUnit.2.UUID"));
    assert!(!t.exists("Device.SoftwareModules.DeploymentUnit.3."));
    // maxEntries binds the device too.
    for _ in 0..32 {
        t.add_instance("Device.NAT.PortMapping.", T0).unwrap();
    }
    assert_eq!(t.add_instance("Device.NAT.PortMapping.", T0), None);
}

#[test]
fn parameter_key_changes_only_with_spv_add_delete() {
    let mut t = device(&builtin(), 1);
    spa(
        &mut t,
        vec![spa_struct(
            "Device.ManagementServer.URL",
            Some(Notification::Passive),
            None,
        )],
    )
    .unwrap();
    assert_eq!(parameter_key(&t), "");
    t.set_value("Device.DeviceInfo.HostName", s("x"), T0);
    t.add_instance("Device.Hosts.Host.", T0);
    assert_eq!(parameter_key(&t), "");
    spv(&mut t, &[], "a").unwrap();
    let n = add_object(&mut t, "Device.NAT.PortMapping.", "b").unwrap();
    assert_eq!(parameter_key(&t), "b");
    delete_object(&mut t, &format!("Device.NAT.PortMapping.{n}."), "c").unwrap();
    assert_eq!(parameter_key(&t), "c");
    let _ = gpv(&mut t, &["Device.Nope"]);
    assert_eq!(parameter_key(&t), "c");
}

#[test]
fn factory_reset_keeps_identity_only() {
    let template = builtin();
    let mut t = device(&template, 5);
    spv(&mut t, &[("Device.WiFi.SSID.1.SSID", s("mine"))], "key").unwrap();
    spa(
        &mut t,
        vec![spa_struct(
            "Device.WiFi.SSID.1.SSID",
            Some(Notification::Active),
            None,
        )],
    )
    .unwrap();
    add_object(&mut t, "Device.NAT.PortMapping.", "k").unwrap();
    add_object(&mut t, "Device.NAT.PortMapping.", "k").unwrap();
    delete_object(&mut t, "Device.WiFi.SSID.3.", "k").unwrap();
    t.set_value("Device.WiFi.SSID.1.SSID", s("x"), T0);
    assert!(t.pending_changes().any);

    let later = T0.plus_secs(500);
    t.factory_reset(later);
    assert_eq!(t.boot_time(), later);
    assert_eq!(parameter_key(&t), "");
    assert_eq!(t.identity().serial_number, "SIM000000005");
    assert_eq!(t.pending_changes(), PendingChanges::default());
    assert_eq!(get(&mut t, "Device.WiFi.SSID.1.SSID"), s("SimNet-5"));
    assert_eq!(gpa(&mut t, &["Device.WiFi.SSID.1.SSID"]).unwrap()[0].1, 0);
    assert!(t.exists("Device.WiFi.SSID.3."));
    assert_eq!(t.instance_numbers("Device.NAT.PortMapping."), Some(vec![]));
    assert_eq!(add_object(&mut t, "Device.NAT.PortMapping.", "k"), Ok(1));
    t.factory_reset(later);
    assert_eq!(
        t.overlay_state(),
        OverlayState {
            boot_time: later,
            ..OverlayState::default()
        }
    );
}

#[test]
fn factory_reset_empties_a_profile_parameter_key() {
    let p = cpe::model::Profile::parse(
        "Device.ManagementServer.ParameterKey\txsd:string\t0\tfrom-dump\n",
        "k.tsv",
    )
    .unwrap();
    let template = Arc::new(cpe::tree::Template::from_profile(&p, None).unwrap());
    let mut t = device(&template, 1);
    assert_eq!(parameter_key(&t), "from-dump");
    t.factory_reset(T0);
    assert_eq!(parameter_key(&t), "");
}

#[test]
fn state_round_trip() {
    let template = builtin();
    let mut t = device(&template, 9);
    spv(
        &mut t,
        &[
            (
                "Device.ManagementServer.PeriodicInformInterval",
                V::UnsignedInt(120),
            ),
            ("Device.ManagementServer.Password", s("pw")),
        ],
        "persist",
    )
    .unwrap();
    spa(
        &mut t,
        vec![spa_struct(
            "Device.WiFi.SSID.1.SSID",
            Some(Notification::Passive),
            Some(&["Subscriber"]),
        )],
    )
    .unwrap();
    let pm = add_object(&mut t, "Device.NAT.PortMapping.", "k").unwrap();
    add_object(&mut t, "Device.NAT.PortMapping.", "k").unwrap();
    delete_object(&mut t, &format!("Device.NAT.PortMapping.{pm}."), "k").unwrap();
    add_object(&mut t, "Device.IP.Interface.", "k").unwrap();
    add_object(&mut t, "Device.IP.Interface.3.IPv4Address.", "k").unwrap();
    spv(
        &mut t,
        &[(
            "Device.IP.Interface.3.IPv4Address.1.IPAddress",
            s("10.1.2.3"),
        )],
        "k2",
    )
    .unwrap();
    t.set_value("Device.WiFi.SSID.1.SSID", s("changed"), T0);
    t.reboot(T0.plus_secs(10));

    let state = t.overlay_state();
    let json = serde_json::to_string_pretty(&state).unwrap();
    assert!(json.contains("\"Device.NAT.PortMapping.\""), "{json}");
    let back: OverlayState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    let mut r = Tree::with_state(Arc::clone(&template), t.identity().clone(), &back);
    assert_eq!(r.overlay_state(), state);
    assert_eq!(r.boot_time(), T0.plus_secs(10));
    assert_eq!(parameter_key(&r), "k2");
    assert_eq!(r.management_text("Password", T0).unwrap(), "pw");
    assert_eq!(
        gpa(&mut r, &["Device.WiFi.SSID.1.SSID"]).unwrap(),
        [(
            "Device.WiFi.SSID.1.SSID".into(),
            1,
            vec!["Subscriber".into()]
        )]
    );
    assert!(r.pending_changes().any);
    assert_eq!(
        get(&mut r, "Device.IP.Interface.3.IPv4Address.1.IPAddress"),
        s("10.1.2.3")
    );
    // The counter survives: no instance number is reused.
    assert_eq!(add_object(&mut r, "Device.NAT.PortMapping.", "k"), Ok(3));
    assert_eq!(
        gpv(&mut r, &["Device.", "Device.DeviceInfo.UpTime"])
            .unwrap()
            .len(),
        gpv(&mut t, &["Device.", "Device.DeviceInfo.UpTime"])
            .unwrap()
            .len()
            + 14
    );

    // Paths the template lacks, and values that no longer fit, are dropped.
    let mut odd = OverlayState::default();
    odd.values.insert("Device.Nope".into(), "x".into());
    odd.values.insert(
        "Device.ManagementServer.PeriodicInformInterval".into(),
        "zero".into(),
    );
    odd.values
        .insert("Device.WiFi.SSID.7.SSID".into(), "x".into());
    odd.pending.insert("Device.Gone.X".into(), true);
    let r = Tree::with_state(template, t.identity().clone(), &odd);
    assert_eq!(r.overlay_state(), OverlayState::default());
}

#[test]
fn agent_helpers() {
    let mut t = device(&builtin(), 3);
    assert_eq!(
        t.management_value("PeriodicInformInterval", T0),
        Some(V::UnsignedInt(3600))
    );
    assert_eq!(
        t.management_text("URL", T0).unwrap(),
        "http://127.0.0.1:7547/"
    );
    assert_eq!(t.management_text("Nope", T0), None);
    assert!(t.set_management_value("URL", s("http://acs/"), T0));
    assert!(!t.set_management_value("PeriodicInformInterval", V::UnsignedInt(0), T0));
    assert_eq!(t.management_text("URL", T0).unwrap(), "http://acs/");
    assert_eq!(t.root(), "Device.");
    assert_eq!(t.template().root(), "Device.");
    assert_eq!(t.instance_numbers("Device.WiFi.SSID."), Some(vec![1, 2, 3]));
    assert_eq!(t.instance_numbers("Device.WiFi.SSID.1."), None);
    assert_eq!(t.value("Device.WiFi.", T0), None);
}

#[test]
fn inform_parameter_extras() {
    let mut t = device(&builtin(), 2);
    assert!(t.inform_parameter_extras(&["2 PERIODIC"], T0).is_empty());
    let a = add_object(&mut t, "Device.ManagementServer.InformParameter.", "k").unwrap();
    let b = add_object(&mut t, "Device.ManagementServer.InformParameter.", "k").unwrap();
    let c = add_object(&mut t, "Device.ManagementServer.InformParameter.", "k").unwrap();
    let ip = |n: u32, p: &str| format!("Device.ManagementServer.InformParameter.{n}.{p}");
    spv(
        &mut t,
        &[
            (&ip(a, "Enable"), V::Boolean(true)),
            (&ip(a, "ParameterName"), s("Device.WiFi.SSID.*.SSID")),
            (&ip(b, "Enable"), V::Boolean(true)),
            (&ip(b, "ParameterName"), s("Device.DeviceInfo.UpTime")),
            (&ip(b, "EventList"), s("1 BOOT")),
            (&ip(c, "Enable"), V::Boolean(false)),
            (&ip(c, "ParameterName"), s("Device.DeviceInfo.HostName")),
        ],
        "k",
    )
    .unwrap();
    fn names(t: &Tree, events: &[&str]) -> Vec<String> {
        t.inform_parameter_extras(events, T0)
            .into_iter()
            .map(|p| p.name.into_owned())
            .collect()
    }
    assert_eq!(
        names(&t, &["2 PERIODIC"]),
        [
            "Device.WiFi.SSID.1.SSID",
            "Device.WiFi.SSID.2.SSID",
            "Device.WiFi.SSID.3.SSID"
        ]
    );
    assert_eq!(names(&t, &["4 VALUE CHANGE"]), Vec::<String>::new());
    assert_eq!(
        names(&t, &["1 BOOT", "4 VALUE CHANGE"]),
        [
            "Device.WiFi.SSID.1.SSID",
            "Device.WiFi.SSID.2.SSID",
            "Device.WiFi.SSID.3.SSID",
            "Device.DeviceInfo.UpTime"
        ]
    );
    // Parameters already in the Inform are not repeated.
    spa(
        &mut t,
        vec![spa_struct(
            "Device.WiFi.SSID.2.SSID",
            Some(Notification::Passive),
            None,
        )],
    )
    .unwrap();
    t.set_value("Device.WiFi.SSID.2.SSID", s("changed"), T0);
    assert_eq!(
        names(&t, &["2 PERIODIC"]),
        ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.3.SSID"]
    );
}
