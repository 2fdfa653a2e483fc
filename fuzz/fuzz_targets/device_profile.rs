//! Device profiles (`cpe::model::Profile`, the TSV format of the built-in profile): parsing
//! arbitrary text never panics; a profile that parses and makes a template gives a device
//! whose whole tree GetParameterNames and GetParameterValues can walk.
#![no_main]

use std::sync::Arc;

use cpe::model::Profile;
use cpe::tree::{Template, Tree};
use cpe::{DataModel, Time};
use cwmp::{Body, GetParameterNames, GetParameterValues};
use libfuzzer_sys::fuzz_target;

const NOW: Time = Time(1_714_564_800_000);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profile) = Profile::parse(text, "fuzz.tsv") else {
        return;
    };
    let Ok(template) = Template::from_profile(&profile, None) else {
        return;
    };
    let root = template.model().root().to_owned();
    let identity = template.identity(7, "FUZZ0007");
    let mut tree = Tree::new(Arc::new(template), identity, NOW);
    let gpn = Body::GetParameterNames(GetParameterNames {
        parameter_path: "".into(),
        next_level: false,
    });
    let answer = tree
        .handle_parameter_rpc(&gpn, NOW)
        .expect("GetParameterNames is a parameter method");
    assert!(
        matches!(answer, Body::GetParameterNamesResponse(_)),
        "GetParameterNames of the whole tree failed: {answer:?}"
    );
    let gpv = Body::GetParameterValues(GetParameterValues {
        parameter_names: vec![root.into()],
    });
    let _ = tree.handle_parameter_rpc(&gpv, NOW);
    let _ = tree.inform_parameters(NOW);
});
