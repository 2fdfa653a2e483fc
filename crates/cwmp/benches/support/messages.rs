//! The messages that `benches/codec.rs` and `examples/decode_loop.rs` measure: the periodic
//! Inform of a TR-181 gateway with 20 parameters, and a GetParameterValuesResponse with 500
//! parameters of mixed types.
#![allow(dead_code, clippy::unwrap_used)]

use std::borrow::Cow;

use cwmp::{
    DateTime, DeviceIdStruct, Envelope, EventStruct, GetParameterValuesResponse, Inform, Namespace,
    ParameterValue, ParameterValueStruct,
};

pub fn inform_20() -> Envelope<'static> {
    let p =
        |name: &'static str, value: ParameterValue<'static>| ParameterValueStruct::new(name, value);
    let s = |v: &'static str| ParameterValue::String(Cow::Borrowed(v));
    let parameter_list = vec![
        p("Device.RootDataModelVersion", s("2.17")),
        p("Device.DeviceInfo.HardwareVersion", s("HGW-1 rev B")),
        p("Device.DeviceInfo.SoftwareVersion", s("3.0.21")),
        p("Device.DeviceInfo.ProvisioningCode", s("")),
        p("Device.ManagementServer.ParameterKey", s("cfg-42")),
        p(
            "Device.ManagementServer.ConnectionRequestURL",
            s("http://192.0.2.10:7547/cr/8f3a2b"),
        ),
        p(
            "Device.ManagementServer.AliasBasedAddressing",
            ParameterValue::Boolean(false),
        ),
        p(
            "Device.DeviceInfo.UpTime",
            ParameterValue::UnsignedInt(86_400),
        ),
        p(
            "Device.DeviceInfo.MemoryStatus.Free",
            ParameterValue::UnsignedInt(123_456),
        ),
        p(
            "Device.DeviceInfo.ProcessStatus.CPUUsage",
            ParameterValue::UnsignedInt(7),
        ),
        p(
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            s("198.51.100.23"),
        ),
        p("Device.IP.Interface.1.Status", s("Up")),
        p(
            "Device.Ethernet.Interface.1.Stats.BytesSent",
            ParameterValue::UnsignedLong(9_876_543_210),
        ),
        p(
            "Device.Ethernet.Interface.1.Stats.BytesReceived",
            ParameterValue::UnsignedLong(12_345_678_901),
        ),
        p(
            "Device.WiFi.Radio.1.Channel",
            ParameterValue::UnsignedInt(36),
        ),
        p("Device.WiFi.SSID.1.SSID", s("Home & Garden")),
        p(
            "Device.WiFi.AccessPoint.1.AssociatedDeviceNumberOfEntries",
            ParameterValue::UnsignedInt(4),
        ),
        p(
            "Device.Hosts.HostNumberOfEntries",
            ParameterValue::UnsignedInt(11),
        ),
        p(
            "Device.Time.CurrentLocalTime",
            ParameterValue::DateTime(DateTime::from_unix_timestamp(1_714_564_800).unwrap()),
        ),
        p("Device.DeviceInfo.Temperature", ParameterValue::Int(-3)),
    ];
    let inform = Inform {
        device_id: DeviceIdStruct {
            manufacturer: "ExampleCorp".into(),
            oui: "00D09E".into(),
            product_class: "HGW-1".into(),
            serial_number: "SN000001".into(),
        },
        event: vec![EventStruct::new("2 PERIODIC")],
        max_envelopes: 1,
        current_time: DateTime::from_unix_timestamp(1_714_564_800).unwrap(),
        retry_count: 0,
        parameter_list,
    };
    let mut env = Envelope::new(Namespace::Cwmp1_2, Some("1697551234".into()), inform);
    env.header.session_timeout = Some(60);
    env.header.supported_cwmp_versions = Some(cwmp::CwmpVersion::ALL.to_vec());
    env
}

pub fn gpv_500() -> Envelope<'static> {
    let parameter_list = (0..500)
        .map(|i| {
            let (name, value) = match i % 5 {
                0 => (
                    format!("Device.Hosts.Host.{i}.HostName"),
                    ParameterValue::String(format!("host-{i}.lan").into()),
                ),
                1 => (
                    format!("Device.Hosts.Host.{i}.Active"),
                    ParameterValue::Boolean(i % 2 == 0),
                ),
                2 => (
                    format!("Device.WiFi.AccessPoint.1.AssociatedDevice.{i}.SignalStrength"),
                    ParameterValue::Int(-40 - (i % 50)),
                ),
                3 => (
                    format!("Device.Ethernet.Interface.{i}.Stats.BytesSent"),
                    ParameterValue::UnsignedLong(1_000_000_007 * i as u64),
                ),
                _ => (
                    format!("Device.Hosts.Host.{i}.PhysAddress"),
                    ParameterValue::String(
                        format!("00:11:22:33:{:02x}:{:02x}", i / 256, i % 256).into(),
                    ),
                ),
            };
            ParameterValueStruct::new(name, value)
        })
        .collect();
    Envelope::new(
        Namespace::Cwmp1_0,
        Some("acs-17".into()),
        GetParameterValuesResponse { parameter_list },
    )
}
