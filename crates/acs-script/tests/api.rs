//! The script API as scripts see it, against a recording host.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use acs_script::{Outcome, Sandbox};
use serde_json::json;
use support::*;

#[test]
fn smoke() {
    let (outcome, host) = run("log('hi', 1, {a: 2}); return 5;");
    assert_eq!(finished(outcome), json!(5));
    assert_eq!(host.logs(), ["hi 1 {\"a\":2}"]);
    let _ = Sandbox::new(Default::default());
    let _ = Outcome::Yielded;
}
