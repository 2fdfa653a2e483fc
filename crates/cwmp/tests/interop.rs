//! Envelopes captured from GenieACS and genieacs-sim (../shared/interop) decode to the
//! values they carry, and our answers to them validate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use cwmp::{
    ApplyStatus, Body, DateTime, Envelope, FaultCode, Namespace, ParameterValue, SoapFaultCode,
};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/interop")
}

fn decode_file(name: &str, f: impl FnOnce(Envelope<'_>)) {
    let path = interop_dir().join(name);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (tests need ../shared)", path.display()));
    match cwmp::decode(&bytes) {
        Ok(env) => {
            assert_eq!(env.namespace, Namespace::Cwmp1_0, "{name}");
            f(env)
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn every_capture_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(interop_dir())
        .expect("../shared/interop must exist")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "genieacs-InformResponse.xml",
            "genieacs-Reboot.xml",
            "genieacs-SetParameterValues.xml",
            "genieacs-sim-Fault-9000-for-Reboot.xml",
            "genieacs-sim-gpn-response.xml",
            "genieacs-sim-gpv-response.xml",
            "genieacs-sim-inform.xml",
            "genieacs-sim-spv-response.xml",
        ],
        "a new capture needs its test below"
    );
}

#[test]
fn genieacs_sim_inform() {
    decode_file("genieacs-sim-inform.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("4dvy1q43"));
        let Body::Inform(inform) = env.body else {
            panic!()
        };
        assert_eq!(
            inform.device_id.manufacturer,
            "Huawei Technologies Co., Ltd."
        );
        assert_eq!(inform.device_id.oui, "202BC1");
        assert_eq!(inform.device_id.product_class, "BM632w");
        assert_eq!(inform.device_id.serial_number, "000000");
        assert_eq!(inform.event.len(), 1);
        assert_eq!(inform.event[0].event_code, "2 PERIODIC");
        assert_eq!(inform.event[0].command_key, "");
        assert_eq!(inform.max_envelopes, 1);
        assert_eq!(
            inform.current_time,
            DateTime::parse("2026-11-21T23:09:48.165Z").unwrap()
        );
        assert_eq!(inform.retry_count, 0);
        // arrayType says 16; seven follow.
        assert_eq!(inform.parameter_list.len(), 7);
        let p = &inform.parameter_list[6];
        assert_eq!(
            p.name,
            "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress"
        );
        assert_eq!(p.value, ParameterValue::String("172.3.89.139".into()));
        assert_eq!(
            inform.parameter_list[3].value,
            ParameterValue::String("".into())
        );
    });
}

#[test]
fn genieacs_sim_responses() {
    decode_file("genieacs-sim-gpv-response.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("acs2"));
        let Body::GetParameterValuesResponse(r) = env.body else {
            panic!()
        };
        assert_eq!(r.parameter_list.len(), 2);
        assert_eq!(
            r.parameter_list[0].value,
            ParameterValue::String("V100R001IRQC56B017".into())
        );
        assert_eq!(
            r.parameter_list[1].name,
            "InternetGatewayDevice.ManagementServer.PeriodicInformInterval"
        );
        assert_eq!(r.parameter_list[1].value, ParameterValue::UnsignedInt(300));
    });
    decode_file("genieacs-sim-spv-response.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("acs3"));
        let Body::SetParameterValuesResponse(r) = env.body else {
            panic!()
        };
        assert_eq!(r.status, ApplyStatus::Applied);
    });
    decode_file("genieacs-sim-gpn-response.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("acs4"));
        let Body::GetParameterNamesResponse(r) = env.body else {
            panic!()
        };
        assert_eq!(r.parameter_list.len(), 20);
        assert_eq!(
            r.parameter_list[0].name,
            "InternetGatewayDevice.DeviceInfo."
        );
        assert!(!r.parameter_list[0].writable);
        let firewall = r
            .parameter_list
            .iter()
            .find(|p| p.name == "InternetGatewayDevice.X_HUAWEI_FireWall.")
            .unwrap();
        assert!(firewall.writable);
    });
    decode_file("genieacs-sim-Fault-9000-for-Reboot.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("1a200640c910000"));
        let Body::Fault(f) = env.body else { panic!() };
        assert_eq!(f.faultcode, SoapFaultCode::Client);
        assert_eq!(f.faultstring, "CWMP fault");
        let d = f.detail.unwrap();
        assert_eq!(d.fault_code, FaultCode::METHOD_NOT_SUPPORTED);
        assert_eq!(d.fault_string.as_deref(), Some("Method not supported"));
    });
}

#[test]
fn genieacs_requests() {
    decode_file("genieacs-InformResponse.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("s50lg3ms"));
        let Body::InformResponse(r) = env.body else {
            panic!()
        };
        assert_eq!(r.max_envelopes, 1);
    });
    decode_file("genieacs-Reboot.xml", |env| {
        assert_eq!(env.header.id.as_deref(), Some("1a200640c910000"));
        let Body::Reboot(r) = env.body else { panic!() };
        assert_eq!(r.command_key, "");
    });
    decode_file("genieacs-SetParameterValues.xml", |env| {
        let Body::SetParameterValues(spv) = env.body else {
            panic!()
        };
        assert_eq!(spv.parameter_list.len(), 1);
        assert_eq!(
            spv.parameter_list[0].name,
            "InternetGatewayDevice.ManagementServer.PeriodicInformInterval"
        );
        assert_eq!(
            spv.parameter_list[0].value,
            ParameterValue::UnsignedInt(900)
        );
        assert_eq!(spv.parameter_key, "");
    });
}

#[test]
fn captures_survive_a_round_trip() {
    for entry in std::fs::read_dir(interop_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let env = cwmp::decode(&bytes).unwrap();
        let again = env.encode().unwrap();
        assert_eq!(
            cwmp::decode(again.as_bytes()).unwrap(),
            env,
            "{}",
            path.display()
        );
    }
}
