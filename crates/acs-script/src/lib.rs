//! The sandboxed JavaScript engine for provision scripts and virtual parameters.
//!
//! Operators write GenieACS-compatible scripts: `declare`, `clear`, `commit`, `ext`,
//! `log` and `args`, with `Date.now()` fixed to the session's time and `Math.random()`
//! seeded per device. This crate runs them in QuickJS (through rquickjs) with no file,
//! network, process or module access, under CPU, memory and stack limits, and with no
//! state carried from one run to the next. What the script asks of the session goes
//! through the [`Host`] trait; the session engine implements it.
//!
//! - [`Script`]: a syntax-checked script; [`check_syntax`] for the API's uploads.
//! - [`Sandbox`]: runs a script against a [`Host`] and answers an [`Outcome`]:
//!   finished with a return value, yielded (RPCs are needed first; run it again after),
//!   or failed with a [`ScriptError`] placed at a line and column of the operator's source.
//!
//! A `Sandbox` is not `Send`: keep one per thread ([`Sandbox::with_thread_local`]).
//! See `sandbox.rs` for why runs share one hardened context rather than each getting a
//! fresh one, how a yield cannot be caught, and how the limits are enforced.
#![forbid(unsafe_code)]

mod convert;
mod error;
mod host;
mod sandbox;
mod script;

pub use error::{ErrorKind, ScriptError};
pub use host::{ExtAnswer, Flow, Host, Instance};
pub use sandbox::{Limits, Outcome, RunEnv, Sandbox};
pub use script::{Script, check_syntax};
