//! Device profiles: a TR-098 InternetGatewayDevice dump (tests/fixtures/tr098_igd.tsv)
//! used alone (definitions inferred) and with tr-098-1-8-0-full.xml (definitions from the
//! model), and `Template::load`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod tree_common;

use std::sync::Arc;

use cpe::model::{Access, BaseType, LoadError, Model, Profile};
use cpe::tree::Template;
use cpe::{DataModel, Time};
use cwmp::{Notification, ParameterValue as V};
use tree_common::*;

const IGD: &str = "InternetGatewayDevice.";
const PPP: &str = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.";

fn alone() -> Arc<Template> {
    Arc::new(Template::load(Some(&fixture("tr098_igd.tsv")), None).unwrap())
}

fn with_tr098() -> Arc<Template> {
    Arc::new(
        Template::load(
            Some(&fixture("tr098_igd.tsv")),
            Some(&bbf("tr-098-1-8-0-full.xml")),
        )
        .unwrap(),
    )
}

#[test]
fn profile_alone_inferred_definitions() {
    let t = alone();
    assert_eq!(t.root(), IGD);
    assert_eq!(t.model().name(), "InternetGatewayDevice:1");
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    assert!(t.inferred().len() > 80);
    let m = t.model();
    let pii = m
        .param("InternetGatewayDevice.ManagementServer.PeriodicInformInterval")
        .unwrap();
    assert_eq!(
        (pii.syntax.base, pii.access),
        (BaseType::UnsignedInt, Access::ReadWrite)
    );
    let sn = m
        .param("InternetGatewayDevice.DeviceInfo.SerialNumber")
        .unwrap();
    assert_eq!(sn.access, Access::ReadOnly);
    assert!(
        m.param("InternetGatewayDevice.ManagementServer.Password")
            .unwrap()
            .syntax
            .hidden
    );
    assert!(
        m.param("InternetGatewayDevice.LANDevice.{i}.WLANConfiguration.{i}.KeyPassphrase")
            .unwrap()
            .syntax
            .secured
    );
    let eth = m
        .object("InternetGatewayDevice.LANDevice.{i}.LANEthernetInterfaceConfig.{i}.")
        .unwrap();
    assert!(eth.multi);
    assert_eq!(eth.access, Access::ReadOnly);
    let pm = m
        .object(&format!(
            "{}PortMapping.{{i}}.",
            PPP.replace(".1.", ".{i}.")
        ))
        .unwrap();
    assert_eq!(pm.access, Access::ReadWrite);
    // An object declared without {i} or instances is a single object.
    assert!(
        !m.object("InternetGatewayDevice.LANDevice.{i}.LANHostConfigManagement.DHCPStaticAddress.")
            .unwrap()
            .multi
    );
}

#[test]
fn profile_alone_device() {
    let t = alone();
    let mut d = device(&t, 4);
    assert_eq!(d.root(), IGD);
    assert_eq!(d.device_id().oui, "001122");
    assert_eq!(
        get(&mut d, "InternetGatewayDevice.DeviceInfo.ProductClass"),
        s("LN300")
    );
    assert_eq!(
        get(
            &mut d,
            "InternetGatewayDevice.ManagementServer.PeriodicInformEnable"
        ),
        V::Boolean(true)
    );
    assert_eq!(
        get(&mut d, "InternetGatewayDevice.ManagementServer.Password"),
        s("")
    );
    assert_eq!(get(&mut d, &format!("{PPP}Password")), s(""));
    assert_eq!(
        get(&mut d, &format!("{PPP}ExternalIPAddress")),
        s("100.64.0.6")
    );
    assert_eq!(
        get(&mut d, &format!("{PPP}MACAddress")),
        s("00:11:22:00:00:40")
    );
    // UpTime is computed, whatever the dump said.
    assert_eq!(
        d.value("InternetGatewayDevice.DeviceInfo.UpTime", T0.plus_secs(3)),
        Some(V::UnsignedInt(3))
    );
    // TR-098 counters grow, the 32-bit ones wrapping.
    let later = T0.plus_secs(3600);
    for p in [
        "InternetGatewayDevice.WANDevice.1.WANCommonInterfaceConfig.TotalBytesSent",
        "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.TotalBytesReceived",
        "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.2.Stats.BytesSent",
    ] {
        match d.value(p, later) {
            Some(V::UnsignedInt(v)) => assert!(v > 0, "{p}"),
            other => panic!("{p}: {other:?}"),
        }
    }

    // The forced-inform list of InternetGatewayDevice:1, with the connection's address.
    let names: Vec<String> = d
        .inform_parameters(T0)
        .into_iter()
        .map(|p| p.name.into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "InternetGatewayDevice.DeviceSummary",
            "InternetGatewayDevice.DeviceInfo.HardwareVersion",
            "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
            "InternetGatewayDevice.DeviceInfo.SpecVersion",
            "InternetGatewayDevice.DeviceInfo.ProvisioningCode",
            "InternetGatewayDevice.ManagementServer.ParameterKey",
            "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
            "InternetGatewayDevice.ManagementServer.AliasBasedAddressing",
            &format!("{PPP}ExternalIPAddress"),
        ]
    );
    assert_eq!(
        gpa(&mut d, &[&format!("{PPP}ExternalIPAddress")]).unwrap()[0].1,
        2,
        "forceDefaultEnabled"
    );

    // Tables: AddObject where the dump said writable, with counts kept by name.
    assert_eq!(
        add_object(&mut d, &format!("{PPP}PortMapping."), "pm"),
        Ok(1)
    );
    assert_eq!(
        get(&mut d, &format!("{PPP}PortMappingNumberOfEntries")),
        V::UnsignedInt(1)
    );
    assert_eq!(
        get(&mut d, &format!("{PPP}PortMapping.1.PortMappingProtocol")),
        s("TCP")
    );
    let wcd = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.";
    assert_eq!(
        add_object(&mut d, &format!("{wcd}WANIPConnection."), "ip"),
        Ok(1)
    );
    assert_eq!(
        get(&mut d, &format!("{wcd}WANIPConnectionNumberOfEntries")),
        V::UnsignedInt(1)
    );
    assert_eq!(
        add_object(
            &mut d,
            "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.",
            "x"
        ),
        Err(9005)
    );
    assert_eq!(
        add_object(
            &mut d,
            "InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPStaticAddress.",
            "x"
        ),
        Err(9005)
    );
    assert_eq!(
        gpn(&mut d, "InternetGatewayDevice.LANDevice.", true).unwrap(),
        [("InternetGatewayDevice.LANDevice.1.".to_owned(), false)]
    );
    // Without facets, any unsignedInt goes; a wrong type does not.
    spv(
        &mut d,
        &[(
            "InternetGatewayDevice.X_LEGACY_Debug.LogLevel",
            V::UnsignedInt(9),
        )],
        "k",
    )
    .unwrap();
    let body = spv_body(
        &mut d,
        &[(
            "InternetGatewayDevice.X_LEGACY_Debug.LogLevel",
            V::Boolean(true),
        )],
        "k",
    );
    assert_eq!(
        spv_faults(&body),
        [("InternetGatewayDevice.X_LEGACY_Debug.LogLevel".into(), 9006)]
    );
    // GetParameterValues over the whole tree encodes.
    assert!(gpv(&mut d, &[IGD]).unwrap().len() > 90);
}

#[test]
fn profile_with_tr098_definitions() {
    let t = with_tr098();
    assert!(t.model().name().starts_with("InternetGatewayDevice:1."));
    assert_eq!(
        t.inferred(),
        [
            "InternetGatewayDevice.X_LEGACY_Debug.Enable",
            "InternetGatewayDevice.X_LEGACY_Debug.LogLevel"
        ]
    );
    // The dump's PPPoESessionID 0 is outside TR-098's range 1..: kept, reported.
    assert_eq!(t.warnings().len(), 1, "{:?}", t.warnings());
    assert!(
        t.warnings()[0].contains("PPPoESessionID"),
        "{:?}",
        t.warnings()
    );
    assert!(
        t.warnings()[0].contains("tr098_igd.tsv:"),
        "{:?}",
        t.warnings()
    );

    let mut d = device(&t, 4);
    // Only what the profile names (and the tables' counts) exists.
    assert!(!d.exists("InternetGatewayDevice.DeviceInfo.ModelNumber"));
    assert!(d.exists("InternetGatewayDevice.DeviceInfo.ModelName"));
    // The model's facets apply.
    for (name, value, code) in [
        (
            "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
            V::UnsignedInt(0),
            9007,
        ),
        (
            "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.BeaconType",
            s("Bogus"),
            9007,
        ),
        (
            "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Channel",
            V::UnsignedInt(256),
            9007,
        ),
        (
            "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Standard",
            s("n"),
            9008,
        ),
    ] {
        let body = spv_body(&mut d, &[(name, value)], "k");
        assert_eq!(spv_faults(&body), [(name.to_owned(), code)], "{name}");
    }
    assert_eq!(
        get(
            &mut d,
            "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.KeyPassphrase"
        ),
        s("")
    );
    // The model's numEntriesParameter links, whatever their names.
    assert_eq!(
        get(
            &mut d,
            "InternetGatewayDevice.LANDevice.1.LANWLANConfigurationNumberOfEntries"
        ),
        V::UnsignedInt(1)
    );
    assert_eq!(
        get(
            &mut d,
            "InternetGatewayDevice.WANDevice.1.WANConnectionNumberOfEntries"
        ),
        V::UnsignedInt(1)
    );
    // Tables the model makes writable; a declared table with no parameters gets the
    // model's parameters.
    assert_eq!(
        add_object(
            &mut d,
            "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.",
            "k"
        ),
        Ok(2)
    );
    let sa = "InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPStaticAddress.";
    assert_eq!(add_object(&mut d, sa, "k"), Ok(1));
    spv(
        &mut d,
        &[(&format!("{sa}1.Chaddr"), s("00:1A:2B:3C:4D:5E"))],
        "k",
    )
    .unwrap();
    let body = spv_body(&mut d, &[(&format!("{sa}1.Chaddr"), s("not a mac"))], "k");
    assert_eq!(spv_faults(&body)[0].1, 9007);
    assert_eq!(
        get(
            &mut d,
            "InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPStaticAddressNumberOfEntries"
        ),
        V::UnsignedInt(1)
    );
    // Attributes from the model: ExternalIPAddress forceDefaultEnabled, UpTime canDeny.
    assert_eq!(
        gpa(&mut d, &[&format!("{PPP}ExternalIPAddress")]).unwrap()[0].1,
        2
    );
    assert_eq!(
        spa(
            &mut d,
            vec![spa_struct(
                "InternetGatewayDevice.DeviceInfo.UpTime",
                Some(Notification::Active),
                None
            )]
        ),
        Err(9009)
    );
    assert_eq!(d.inform_parameters(T0).len(), 9);
    assert!(gpv(&mut d, &[""]).is_ok());
}

#[test]
fn load_combinations_and_errors() {
    let builtin = Template::load(None, None).unwrap();
    assert_eq!(builtin.root(), "Device.");
    assert!(builtin.warnings().is_empty(), "{:?}", builtin.warnings());
    let whole = Template::load(None, Some(&bbf("tr-098-1-8-0-full.xml"))).unwrap();
    assert_eq!(whole.root(), IGD);
    assert!(whole.inferred().is_empty());

    match Template::load(Some(&fixture("nope.tsv")), None) {
        Err(LoadError::Io { path, .. }) => assert!(path.ends_with("nope.tsv")),
        other => panic!("{other:?}"),
    }
    match Model::from_bbf_file(fixture("nope.xml")) {
        Err(LoadError::Io { .. }) => {}
        other => panic!("{other:?}"),
    }
    // A profile whose root is not the model's.
    let p = Profile::parse("Device.X\txsd:string\t0\tv\n", "dev.tsv").unwrap();
    let m = Model::from_bbf_file(bbf("tr-098-1-8-0-full.xml")).unwrap();
    assert!(matches!(
        Template::from_profile(&p, Some(m)),
        Err(LoadError::Invalid { .. })
    ));
    // A malformed line names the file and line.
    let e = Profile::parse("# c\nDevice.A\txsd:string\t2\tv\n", "bad.tsv").unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.tsv:2: writable must be 0/1/true/false, not \"2\""
    );
    // Malformed XML names the file and line.
    let e = Model::from_bbf_str(
        "<dm:document>\n<model name=\"x\">\n<object name=\"Device.\"></x>",
        "m.xml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("m.xml:3:"), "{e}");
}

#[test]
fn instances_are_unique_per_parent() {
    // A table below a table keeps one counter per parent instance.
    let t = alone();
    let mut d = device(&t, 1);
    let wcd = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.";
    let a = add_object(&mut d, &format!("{wcd}WANIPConnection."), "k").unwrap();
    let b = add_object(&mut d, &format!("{wcd}WANIPConnection."), "k").unwrap();
    assert_eq!((a, b), (1, 2));
    delete_object(&mut d, &format!("{wcd}WANIPConnection.2."), "k").unwrap();
    assert_eq!(
        add_object(&mut d, &format!("{wcd}WANIPConnection."), "k"),
        Ok(3)
    );
    assert_eq!(
        d.instance_numbers(&format!("{wcd}WANIPConnection.")),
        Some(vec![1, 3])
    );
    let _ = Time(0);
}

#[test]
fn min_entries_are_created_and_kept() {
    let p = Profile::parse(
        "Device.A.{i}.\t\t1\t\tmin=1\tmax=3\n\
         Device.A.{i}.Name\txsd:string\t1\tnew\n\
         Device.A.{i}.B.{i}.\t\t1\t\tmin=2\n\
         Device.A.{i}.B.{i}.Level\txsd:unsignedInt\t1\t7\n\
         Device.ANumberOfEntries\txsd:unsignedInt\t0\t0\n",
        "min.tsv",
    )
    .unwrap();
    let t = Arc::new(Template::from_profile(&p, None).unwrap());
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    let mut d = device(&t, 1);
    // minEntries instances exist from the factory, down the tree.
    assert_eq!(d.instance_numbers("Device.A."), Some(vec![1]));
    assert_eq!(d.instance_numbers("Device.A.1.B."), Some(vec![1, 2]));
    assert_eq!(get(&mut d, "Device.A.1.B.2.Level"), V::UnsignedInt(7));
    assert_eq!(get(&mut d, "Device.ANumberOfEntries"), V::UnsignedInt(1));
    // A new instance gets its sub-tables' minimum too.
    assert_eq!(add_object(&mut d, "Device.A.", "k"), Ok(2));
    assert_eq!(d.instance_numbers("Device.A.2.B."), Some(vec![1, 2]));
    assert_eq!(get(&mut d, "Device.A.2.Name"), s("new"));
    // Deleting below minEntries is refused (9001); above it is fine.
    assert_eq!(delete_object(&mut d, "Device.A.2.B.1.", "k"), Err(9001));
    assert_eq!(add_object(&mut d, "Device.A.2.B.", "k"), Ok(3));
    assert_eq!(delete_object(&mut d, "Device.A.2.B.1.", "k"), Ok(()));
    assert_eq!(delete_object(&mut d, "Device.A.2.B.2.", "k"), Err(9001));
    assert_eq!(d.instance_numbers("Device.A.2.B."), Some(vec![2, 3]));
    assert_eq!(delete_object(&mut d, "Device.A.1.", "k"), Ok(()));
    assert_eq!(delete_object(&mut d, "Device.A.2.", "k"), Err(9001));
    assert_eq!(add_object(&mut d, "Device.A.", "k"), Ok(3));
    assert_eq!(add_object(&mut d, "Device.A.", "k"), Ok(4));
    assert_eq!(add_object(&mut d, "Device.A.", "k"), Err(9004));
}
