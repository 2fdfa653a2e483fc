//! The CPE's parameter methods on the built-in device: arbitrary envelopes, decoded as the
//! ACS would send them, never make the tree panic, and every answer encodes in the
//! request's namespace (what the device says validates against the schema).
//!
//! Input: envelopes separated by a NUL byte, applied in turn to one device; at the end the
//! whole tree is read back with GetParameterValues, which must encode too (nothing stored
//! on the way broke the schema), when a request may have changed it.
#![no_main]

use std::sync::{Arc, OnceLock};

use cpe::tree::{Template, Tree};
use cpe::{DataModel, Time};
use cwmp::{Body, Envelope, GetParameterValues, Namespace};
use libfuzzer_sys::fuzz_target;

const NOW: Time = Time(1_714_564_800_000);

fn template() -> Arc<Template> {
    static T: OnceLock<Arc<Template>> = OnceLock::new();
    Arc::clone(T.get_or_init(|| Arc::new(Template::builtin().expect("the built-in profile loads"))))
}

/// Answers a request; whether it was one that may change the tree.
fn answer(tree: &mut Tree, request: &Envelope<'_>, now: Time) -> bool {
    let Some(response) = tree.handle_parameter_rpc(&request.body, now) else {
        return false;
    };
    // The body is the tree's; the `cwmp:ID` it would echo is the agent's business (the
    // decoder lets characters through that XML 1.0 cannot carry, there too).
    let reply = Envelope::new(request.namespace, None, response);
    if let Err(e) = reply.encode() {
        panic!(
            "the answer does not encode in {}: {e}\nrequest: {:?}\nanswer: {:?}",
            request.namespace, request.body, reply.body
        );
    }
    matches!(
        request.body,
        Body::SetParameterValues(_)
            | Body::SetParameterAttributes(_)
            | Body::AddObject(_)
            | Body::DeleteObject(_)
    )
}

fuzz_target!(|data: &[u8]| {
    let t = template();
    let identity = t.identity(1, "SIM000000001");
    let mut tree = Tree::new(t, identity, NOW);
    let mut now = NOW;
    let mut changed = false;
    for part in data.split(|&b| b == 0).take(16) {
        now = now.plus_secs(1);
        let Ok(envelope) = cwmp::decode(part) else {
            continue;
        };
        changed |= answer(&mut tree, &envelope, now);
    }
    if changed {
        let all = Envelope::new(
            Namespace::Cwmp1_0,
            None,
            Body::GetParameterValues(GetParameterValues {
                parameter_names: vec!["Device.".into()],
            }),
        );
        answer(&mut tree, &all, now);
    }
});
