//! The BBF data-model XML loader (`cpe::model::Model::from_bbf_str`): arbitrary text never
//! makes it panic; a model it loads makes a template and a device whose tree
//! GetParameterNames can walk.
#![no_main]

use std::sync::Arc;

use cpe::model::Model;
use cpe::tree::{Template, Tree};
use cpe::{DataModel, Time};
use cwmp::{Body, GetParameterNames};
use libfuzzer_sys::fuzz_target;

const NOW: Time = Time(1_714_564_800_000);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(model) = Model::from_bbf_str(&text, "fuzz.xml") else {
        return;
    };
    let template = Template::from_model(model);
    let identity = template.identity(3, "FUZZ0003");
    let mut tree = Tree::new(Arc::new(template), identity, NOW);
    let gpn = Body::GetParameterNames(GetParameterNames {
        parameter_path: "".into(),
        next_level: false,
    });
    let _ = tree
        .handle_parameter_rpc(&gpn, NOW)
        .expect("GetParameterNames is a parameter method");
});
