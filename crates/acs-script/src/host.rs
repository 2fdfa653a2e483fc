//! What a script asks of the session: the [`Host`] trait and the values it answers with.
//!
//! The sandbox does not interpret parameter paths, timestamps or values: it converts them
//! to JSON and hands them over, so that path syntax (wildcards, alias filters, the
//! `Tags.`/`Reboot`/`VirtualParameters.` roots) lives in one place, the session engine.

use serde_json::Value;

/// One matched instance of a declared path, as currently known to the session.
///
/// Every attribute is optional because the session may not have fetched it yet (a
/// `declare` with an old timestamp is satisfied by whatever is known); the script sees
/// `undefined` for an unknown attribute, as in GenieACS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    /// The concrete path (`Device.WiFi.SSID.2.SSID`), wildcards resolved.
    pub path: String,
    pub object: Option<bool>,
    pub writable: Option<bool>,
    /// The value and its XSD type (`"xsd:string"`); the script sees `[value, type]`.
    pub value: Option<(Value, String)>,
    pub notification: Option<i64>,
    pub access_list: Option<Vec<String>>,
}

impl Instance {
    /// An instance known only by its path.
    pub fn new(path: impl Into<String>) -> Self {
        Instance {
            path: path.into(),
            ..Instance::default()
        }
    }
}

/// The host's answer to `commit()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Everything declared so far is satisfied: the script goes on.
    Continue,
    /// RPCs are needed first: the run stops here and reports [`crate::Outcome::Yielded`];
    /// the caller performs the RPCs and runs the script again from the top.
    Yield,
}

/// The host's answer to `ext()`.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtAnswer {
    /// The extension's result, known (cached from an earlier call with the same
    /// arguments).
    Value(Value),
    /// Not known yet: the run stops as for [`Flow::Yield`]; the caller calls the extension
    /// asynchronously and runs the script again.
    Yield,
}

/// The session side of a script run.
///
/// Called synchronously from inside the script. An `Err` from `declare` or `clear` is
/// thrown into the script as an `Error` with that message (the script may catch it);
/// time spent in the host does not count against the script's CPU limit.
pub trait Host {
    /// `declare(path, timestamps, values)`. `timestamps` and `values` are the script's
    /// objects as JSON (`{"value": 1700000000000}`, `{"path": 2}`), `Null` when omitted.
    /// Returns the instances that match now.
    fn declare(
        &mut self,
        path: &str,
        timestamps: &Value,
        values: &Value,
    ) -> Result<Vec<Instance>, String>;

    /// `clear(path, timestamp, attributes)`; `attributes` is `Null` when omitted.
    fn clear(&mut self, path: &str, timestamp: f64, attributes: &Value) -> Result<(), String>;

    /// `commit()`: are the declarations so far satisfied? Also called when the script
    /// reads a declare result after a `declare` or `clear` (GenieACS commits implicitly
    /// there). A run that finishes may leave declarations uncommitted: the end of the
    /// script is a commit, for the session to make.
    fn commit(&mut self) -> Flow;

    /// `ext(name, functionName, ...args)`. Every argument arrives as a JSON string: the
    /// script's values converted with `String()`, as GenieACS passes them to extensions.
    fn ext(&mut self, name: &str, function: &str, args: &[Value]) -> ExtAnswer;

    /// `log(message, ...)`, its arguments joined into one line (non-strings as JSON).
    fn log(&mut self, message: &str);

    /// `HASH_CREDENTIAL(...parts)`: a password-like string derived from the
    /// installation's credentials secret and the parts (their string forms), stable for
    /// a given secret and parts. The default has no secret and refuses, which the script
    /// sees as an exception.
    fn hash_credential(&mut self, parts: &[String]) -> Result<String, String> {
        let _ = parts;
        Err("HASH_CREDENTIAL: no credentials secret is configured".to_owned())
    }
}
