//! What the northbound API parses from clients — filters, sorts, projections, tasks, device
//! ids, parameter paths, presets and provisioning names — never panics; ids and paths that
//! parse print back as given, a preset that parses writes JSON that parses back to it, and
//! a filter that compiles evaluates.
#![no_main]

use acs_core::preset::{Name, Preset};
use acs_core::query::{DeviceSnapshot, parse_filter, parse_projection, parse_sort};
use acs_core::task::parse_task;
use acs_core::{DeviceId, ParameterPath, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_projection(text);
    let _ = Name::parse(text);
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
    if let Ok(filter) = parse_filter(&json)
        && let Ok(matcher) = filter.compile()
    {
        let _ = matcher.matches(&DeviceSnapshot::default());
    }
    if let Ok(name) = Name::parse("p")
        && let Ok(preset) = Preset::from_json(&name, &json)
    {
        let back = Preset::from_json(&name, &preset.to_json()).expect("a written preset parses");
        assert_eq!(back, preset);
        let _ = preset.applies(&DeviceSnapshot::default(), &["1 BOOT"], Timestamp(0));
    }
    let _ = parse_sort(&json);
    let device = DeviceId::from_identity("00D09E", "HGW-1", "SN1");
    let _ = parse_task(device, &json, Timestamp(0));
});
