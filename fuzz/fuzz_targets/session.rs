//! The session engine fed arbitrary request bodies: it never panics, and every SOAP reply
//! it writes decodes again (it is exact on output whatever it was given).
//!
//! Input: HTTP bodies separated by a NUL byte; the first is the would-be Inform, the rest
//! the following POSTs of the session (an empty one is the CPE's empty POST).
#![no_main]

use acs_core::session::{DeviceContext, EngineConfig, Reply, Session, Step, read_inform};
use acs_core::task::{Task, parse_task};
use acs_core::{DeviceId, Timestamp};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const NOW: Timestamp = Timestamp(1_714_564_800_000);

fn check(step: &Step) {
    if let Reply::Soap(xml) = &step.reply {
        cwmp::decode(xml.as_bytes()).expect("the engine's reply decodes");
    }
}

/// Tasks of several kinds, so that responses meet requests in flight.
fn tasks(device: &DeviceId) -> Vec<Task> {
    [
        json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.UpTime"]}),
        json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.SSID", "x"]]}),
        json!({"name": "refreshObject", "objectName": "Device.WiFi."}),
        json!({"name": "addObject", "objectName": "Device.NAT.PortMapping.", "parameterValues": [["Enable", true]]}),
        json!({"name": "download", "fileType": "1 Firmware Upgrade Image", "url": "http://f/x"}),
    ]
    .iter()
    .enumerate()
    .filter_map(|(i, j)| {
        let new = parse_task(device.clone(), j, NOW).ok()?;
        Some(Task {
            id: i as i64 + 1,
            device: new.device,
            created: new.created,
            expiry: new.expiry,
            kind: new.kind,
            progress: None,
            retries: 0,
            not_before: None,
        })
    })
    .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut bodies = data.split(|b| *b == 0);
    let Some(first) = bodies.next() else {
        return;
    };
    let hold = data.first().is_some_and(|b| b & 1 == 1);
    let config = EngineConfig {
        hold_requests: hold,
        ..EngineConfig::default()
    };
    let inform = match read_inform(first, &config) {
        Ok(i) => i,
        Err(reply) => {
            if let Reply::Soap(xml) = &reply {
                cwmp::decode(xml.as_bytes()).expect("the engine's fault decodes");
            }
            return;
        }
    };
    let ctx = DeviceContext {
        known_device: true,
        tasks: tasks(&inform.device),
        new_cr_credentials: Some(("acs-user".into(), "0123456789abcdef".into())),
        loaded: true,
        ..DeviceContext::default()
    };
    let (mut session, step) = Session::start(NOW, inform, ctx, &config);
    check(&step);
    for (i, body) in bodies.enumerate() {
        let step = session.handle(NOW.plus_millis(i as i64), body, &config);
        check(&step);
    }
});
