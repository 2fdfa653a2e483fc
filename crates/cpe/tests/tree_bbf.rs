//! Loading the BBF full data models (TR-181 Device:2.17 and TR-098 InternetGatewayDevice:1)
//! from ../shared/bbf, and a tree built from a whole model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cpe::DataModel;
use cpe::Time;
use cpe::model::{Access, ActiveNotify, BaseType, Model};
use cpe::tree::{Template, Tree};
use cwmp::{Body, GetParameterNames, GetParameterValues, ParameterValue};

fn bbf(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bbf")
        .join(file)
}

fn tr181() -> Model {
    let start = Instant::now();
    let m = Model::from_bbf_file(bbf("tr-181-2-17-0-cwmp-full.xml")).unwrap();
    eprintln!("TR-181 loaded in {:?}", start.elapsed());
    m
}

#[test]
fn tr181_definitions() {
    let m = tr181();
    assert_eq!(m.name(), "Device:2.17");
    assert_eq!(m.root(), "Device.");
    assert!(m.objects().len() > 700, "{}", m.objects().len());
    assert!(m.params().len() > 6000, "{}", m.params().len());

    // Forced inform parameters: exactly the list of notes §4.5.
    let mut forced: Vec<String> = m
        .params()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.forced_inform)
        .map(|(i, _)| {
            let id = m.param_id(&param_path(&m, i)).unwrap();
            m.param_path(id)
        })
        .collect();
    forced.sort();
    assert_eq!(
        forced,
        [
            "Device.DeviceInfo.HardwareVersion",
            "Device.DeviceInfo.ProvisioningCode",
            "Device.DeviceInfo.SoftwareVersion",
            "Device.ManagementServer.AliasBasedAddressing",
            "Device.ManagementServer.ConnectionRequestURL",
            "Device.ManagementServer.ParameterKey",
            "Device.RootDataModelVersion",
        ]
    );

    let oui = m.param("Device.DeviceInfo.ManufacturerOUI").unwrap();
    assert_eq!(oui.syntax.base, BaseType::String);
    assert_eq!(
        (oui.syntax.min_length, oui.syntax.max_length),
        (Some(6), Some(6))
    );
    assert_eq!(m.patterns(&oui.syntax), ["[0-9A-F]{6}"]);
    assert_eq!(oui.access, Access::ReadOnly);

    let sv = m.param("Device.DeviceInfo.SoftwareVersion").unwrap();
    assert_eq!(sv.active_notify, ActiveNotify::ForceEnabled);
    let crurl = m
        .param("Device.ManagementServer.ConnectionRequestURL")
        .unwrap();
    assert_eq!(crurl.active_notify, ActiveNotify::ForceDefaultEnabled);
    let uptime = m.param("Device.DeviceInfo.UpTime").unwrap();
    assert_eq!(uptime.active_notify, ActiveNotify::CanDeny);
    assert_eq!(uptime.syntax.base, BaseType::UnsignedInt);

    let pii = m
        .param("Device.ManagementServer.PeriodicInformInterval")
        .unwrap();
    assert_eq!(pii.access, Access::ReadWrite);
    assert_eq!(pii.syntax.ranges[0].min, Some(1));
    let retry = m
        .param("Device.ManagementServer.CWMPRetryIntervalMultiplier")
        .unwrap();
    assert_eq!(
        (retry.syntax.ranges[0].min, retry.syntax.ranges[0].max),
        (Some(1000), Some(65535))
    );

    // hidden and secured.
    assert!(
        m.param("Device.ManagementServer.Password")
            .unwrap()
            .syntax
            .hidden
    );
    assert!(
        m.param("Device.WiFi.AccessPoint.{i}.Security.KeyPassphrase")
            .unwrap()
            .syntax
            .secured
    );

    // Named data types resolved.
    let mac = m.param("Device.Ethernet.Interface.{i}.MACAddress").unwrap();
    assert_eq!(mac.syntax.max_length, Some(17));
    assert_eq!(m.patterns(&mac.syntax).len(), 2);
    let bytes = m
        .param("Device.Ethernet.Interface.{i}.Stats.BytesSent")
        .unwrap();
    assert_eq!(bytes.syntax.base, BaseType::UnsignedLong);
    assert_eq!(bytes.active_notify, ActiveNotify::CanDeny);
    let alias = m.param("Device.WiFi.SSID.{i}.Alias").unwrap();
    assert_eq!(alias.syntax.max_length, Some(64));
    let ipaddr = m
        .param("Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress")
        .unwrap();
    assert_eq!(ipaddr.syntax.max_length, Some(15));

    // DiagnosticsState: a named type with read-only enumeration values.
    let ds = m
        .param("Device.IP.Diagnostics.IPPing.DiagnosticsState")
        .unwrap();
    let values: Vec<&str> = ds.syntax.enumeration.iter().map(|e| &*e.value).collect();
    assert!(values.contains(&"Requested") && values.contains(&"Complete"));
    assert!(
        ds.syntax
            .enumeration
            .iter()
            .find(|e| &*e.value == "Complete")
            .unwrap()
            .read_only
    );

    // Enumerations and lists.
    let band = m
        .param("Device.WiFi.Radio.{i}.OperatingFrequencyBand")
        .unwrap();
    assert!(
        band.syntax
            .enumeration
            .iter()
            .any(|e| &*e.value == "2.4GHz")
    );
    let channels = m.param("Device.WiFi.Radio.{i}.PossibleChannels").unwrap();
    assert!(channels.syntax.list.is_some());

    // Tables.
    let ssid = m.object("Device.WiFi.SSID.{i}.").unwrap();
    assert!(ssid.multi);
    assert_eq!(ssid.access, Access::ReadWrite);
    assert_eq!(
        ssid.num_entries,
        m.param_id("Device.WiFi.SSIDNumberOfEntries")
    );
    let host = m.object("Device.Hosts.Host.{i}.").unwrap();
    assert_eq!(host.access, Access::ReadOnly);
    let pm = m.object("Device.NAT.PortMapping.{i}.").unwrap();
    assert_eq!(pm.access, Access::ReadWrite);
    // Deleted items are left out.
    assert!(m.object("Device.PPP.Interface.{i}.PPPoA.").is_none());
}

fn param_path(m: &Model, index: usize) -> String {
    let p = &m.params()[index];
    format!("{}{}", m.object_def(p.object).unwrap().path, p.name)
}

#[test]
fn tr098_definitions() {
    let m = Model::from_bbf_file(bbf("tr-098-1-8-0-full.xml")).unwrap();
    assert!(
        m.name().starts_with("InternetGatewayDevice:1."),
        "{}",
        m.name()
    );
    assert_eq!(m.root(), "InternetGatewayDevice.");
    let mut forced: Vec<String> = (0..m.params().len())
        .filter(|&i| m.params()[i].forced_inform)
        .map(|i| param_path(&m, i))
        .collect();
    forced.sort();
    assert!(forced.contains(&"InternetGatewayDevice.DeviceSummary".to_owned()));
    assert!(forced.contains(&"InternetGatewayDevice.DeviceInfo.SpecVersion".to_owned()));
    assert!(forced.contains(
        &"InternetGatewayDevice.WANDevice.{i}.WANConnectionDevice.{i}.WANIPConnection.{i}.ExternalIPAddress"
            .to_owned()
    ));
    let ext = m
        .param("InternetGatewayDevice.WANDevice.{i}.WANConnectionDevice.{i}.WANPPPConnection.{i}.ExternalIPAddress")
        .unwrap();
    assert_eq!(ext.active_notify, ActiveNotify::ForceDefaultEnabled);
    let pii = m
        .param("InternetGatewayDevice.ManagementServer.PeriodicInformInterval")
        .unwrap();
    assert_eq!(pii.syntax.base, BaseType::UnsignedInt);
    let wlan = m
        .object("InternetGatewayDevice.LANDevice.{i}.WLANConfiguration.{i}.")
        .unwrap();
    assert!(wlan.multi);
    assert_eq!(wlan.tables.len(), 2);
    let beacon = m
        .param("InternetGatewayDevice.LANDevice.{i}.WLANConfiguration.{i}.BeaconType")
        .unwrap();
    assert!(!beacon.syntax.enumeration.is_empty());
}

#[test]
fn whole_model_tree_has_empty_tables() {
    let t = Arc::new(Template::from_model(tr181()));
    let mut tree = Tree::new(Arc::clone(&t), t.identity(1, "S1"), Time(0));
    let now = Time(5_000);
    assert_eq!(
        tree.value("Device.DeviceInfo.UpTime", now),
        Some(ParameterValue::UnsignedInt(5))
    );
    assert_eq!(
        tree.value("Device.WiFi.SSIDNumberOfEntries", now),
        Some(ParameterValue::UnsignedInt(0))
    );
    // No default in the model: the lower bound of its range (0 is outside it).
    assert_eq!(
        tree.value("Device.ManagementServer.CWMPRetryIntervalMultiplier", now),
        Some(ParameterValue::UnsignedInt(1000))
    );
    assert_eq!(
        tree.value("Device.ManagementServer.EnableCWMP", now),
        Some(ParameterValue::Boolean(true))
    );
    let gpn = tree
        .handle_parameter_rpc(
            &Body::GetParameterNames(GetParameterNames {
                parameter_path: "Device.WiFi.SSID.".into(),
                next_level: true,
            }),
            now,
        )
        .unwrap();
    let Body::GetParameterNamesResponse(r) = gpn else {
        panic!("{gpn:?}")
    };
    assert!(r.parameter_list.is_empty());
    let gpv = tree
        .handle_parameter_rpc(
            &Body::GetParameterValues(GetParameterValues {
                parameter_names: vec!["Device.".into()],
            }),
            now,
        )
        .unwrap();
    let Body::GetParameterValuesResponse(r) = gpv else {
        panic!("{gpv:?}")
    };
    assert!(r.parameter_list.len() > 500, "{}", r.parameter_list.len());
    let env = cwmp::Envelope::new(
        cwmp::Namespace::Cwmp1_2,
        None,
        Body::GetParameterValuesResponse(r),
    );
    env.encode().unwrap();
    assert_eq!(tree.inform_parameters(now).len(), 7);
    // No warnings: every default of TR-181 fits its definition.
    for w in t.warnings() {
        eprintln!("warning: {w}");
    }
}

#[test]
fn tr098_whole_model_tree() {
    let m = Model::from_bbf_file(bbf("tr-098-1-8-0-full.xml")).unwrap();
    let t = Arc::new(Template::from_model(m));
    let tree = Tree::new(Arc::clone(&t), t.identity(1, "S1"), Time(0));
    // minEntries: LANDevice etc. have none; the forced list of a tree with empty WAN
    // tables has no ExternalIPAddress.
    let names: Vec<String> = tree
        .inform_parameters(Time(0))
        .into_iter()
        .map(|p| p.name.into_owned())
        .collect();
    assert!(
        names.contains(&"InternetGatewayDevice.DeviceSummary".to_owned()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.ends_with("ExternalIPAddress")));
}

#[test]
fn builtin_profile_fits_tr181() {
    let profile = cpe::model::Profile::builtin().unwrap();
    let t = Template::from_profile(&profile, Some(tr181())).unwrap();
    assert!(
        t.inferred().is_empty(),
        "paths not in TR-181 2.17: {:#?}",
        t.inferred()
    );
    assert!(t.warnings().is_empty(), "{:#?}", t.warnings());
}
