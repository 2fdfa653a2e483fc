//! Provisioning: presets apply provisions (built-in or JavaScript) to the devices they
//! match; a provision *declares* what it wants of the device (`declare(path, timestamps,
//! values)`), and the engine turns the declarations that are not yet met into the fewest
//! RPCs, then runs the provisions again on what it learned, until nothing is left to do.

pub mod declaration;
pub mod path;

pub use declaration::{Declaration, Freshness, InvalidDeclaration, Wanted, WantedValue};
pub use path::{InvalidPattern, Matches, PathPattern, Segment};
pub mod engine;

pub use engine::{
    Action, Active, BUILTIN_PROVISIONS, DeviceFacts, ExtAnswer, ExtCall, Flow, Host, Instance,
    Next, NoScripts, Options, Provisioning, RunOutcome, Runner,
};
