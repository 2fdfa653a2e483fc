//! Decoding and encoding throughput of the envelope codec.
//!
//! Inputs: an Inform with 20 parameters (the periodic Inform of a TR-181 gateway) and a
//! GetParameterValuesResponse with 500 parameters. Baselines, measured in the same run on
//! the same bytes: quick-xml tokenizing alone, the floor under any decoder built on it,
//! and quick-xml's `NsReader` resolving every namespace, the alternative to our own scope.
//!
//! Run: `cargo bench -p cwmp --bench codec`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cwmp::{
    Body, DateTime, DeviceIdStruct, Envelope, EventStruct, GetParameterValuesResponse, Inform,
    Namespace, ParameterValue, ParameterValueStruct,
};

fn inform_20() -> Envelope<'static> {
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

fn gpv_500() -> Envelope<'static> {
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

/// Tokenize with quick-xml and touch every event: the baseline.
fn tokenize(xml: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return n,
            Ok(_) => n += 1,
        }
    }
}

/// Tokenize with quick-xml's `NsReader`, resolving the namespace of every element and
/// attribute: what the decoder would cost if it used quick-xml's namespace resolution
/// instead of its own scope (see src/xml/reader.rs).
fn tokenize_resolving(xml: &str) -> usize {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut n = 0;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) | Err(_) => return n,
            Ok((ns, Event::Start(start))) => {
                n += usize::from(matches!(ns, ResolveResult::Bound(_)));
                for attr in start.attributes().flatten() {
                    let (ns, _) = reader.resolver().resolve_attribute(attr.key);
                    n += usize::from(matches!(ns, ResolveResult::Bound(_)));
                }
            }
            Ok(_) => n += 1,
        }
    }
}

fn bench_message(c: &mut Criterion, name: &str, env: &Envelope<'_>) {
    let xml = env.encode().expect("valid envelope");
    let mut group = c.benchmark_group(name);
    // Decimal megabytes, so that BENCHMARKS.md quotes MB/s.
    group.throughput(Throughput::BytesDecimal(xml.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            let env = cwmp::decode(black_box(xml.as_bytes())).expect("decodes");
            assert!(matches!(
                env.body,
                Body::Inform(_) | Body::GetParameterValuesResponse(_)
            ));
            env
        })
    });
    group.bench_function("encode", |b| {
        b.iter(|| black_box(env).encode().expect("encodes"))
    });
    group.bench_function("baseline_quick_xml_tokenize", |b| {
        b.iter(|| tokenize(black_box(&xml)))
    });
    group.bench_function("baseline_quick_xml_nsreader", |b| {
        b.iter(|| tokenize_resolving(black_box(&xml)))
    });
    group.finish();
    println!("{name}: {} bytes", xml.len());
}

fn codec(c: &mut Criterion) {
    bench_message(c, "inform_20", &inform_20());
    bench_message(c, "gpv_response_500", &gpv_500());
}

criterion_group!(benches, codec);
criterion_main!(benches);
