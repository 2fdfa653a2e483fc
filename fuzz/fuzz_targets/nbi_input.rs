//! What the northbound API parses from clients — filters, sorts, projections, tasks, device
//! ids and parameter paths — never panics; ids and paths that parse print back as given.
#![no_main]

use acs_core::query::{parse_filter, parse_projection, parse_sort};
use acs_core::task::parse_task;
use acs_core::{DeviceId, ParameterPath, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_projection(text);
    if let Ok(id) = DeviceId::parse(text) {
        assert_eq!(
            DeviceId::parse(&id.to_string()).expect("printed id parses"),
            id
        );
    }
    if let Ok(path) = ParameterPath::parse(text) {
        assert_eq!(path.to_string(), text);
    }
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let _ = parse_filter(&json);
    let _ = parse_sort(&json);
    let device = DeviceId::from_identity("00D09E", "HGW-1", "SN1");
    let _ = parse_task(device, &json, Timestamp(0));
});
