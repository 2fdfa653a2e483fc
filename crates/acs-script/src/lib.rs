//! The sandboxed JavaScript engine for provision scripts and virtual parameters.
//!
//! Operators write GenieACS-compatible scripts, and they must run unchanged: `declare`,
//! `clear`, `commit`, `ext`, `log`, `args` and `HASH_CREDENTIAL`, strict mode, a
//! top-level `return`, `Date.now()` fixed to the session's time (and
//! `Date.now(interval)` for staggered refreshes), `Math.random()` seeded per device.
//! This crate runs them in QuickJS (through rquickjs) with no file, network, process or
//! module access, under CPU, memory and stack limits, and with nothing carried from one
//! run to the next. What a script asks of the session goes through the [`Host`] trait,
//! which the session engine implements; the sandbox never interprets parameter paths.
//!
//! - [`Script`]: a syntax-checked script, cheap to clone and share between threads;
//!   [`check_syntax`] for the API's uploads (400 with line and column).
//! - [`Sandbox`]: runs a script against a [`Host`] and answers an [`Outcome`]: finished
//!   with the return value as JSON, yielded (RPCs or an extension call are needed
//!   first: perform them and run the script again from the top), or failed with a
//!   [`ScriptError`] of an [`ErrorKind`], placed at a line and column of the operator's
//!   source.
//!
//! A `Sandbox` is not `Send` (a QuickJS runtime is not): keep one per thread;
//! [`Sandbox::with_thread_local`] does that.
//!
//! # Design, in short (details where the code is)
//!
//! - **Isolation** (`sandbox.rs`, `prelude.js`): one runtime and context per sandbox,
//!   reused, because a fresh context costs more than a whole session's budget. The
//!   prelude removes string compilation (`eval`, the Function constructors), clocks and
//!   finalizers, and freezes every built-in and the global object, so a run can change
//!   nothing the next run sees. Promise jobs a run leaves are discarded; a runtime that
//!   cannot be vouched for (jobs left anyway, memory exhausted, a host that panicked)
//!   is replaced.
//! - **Yielding** (`sandbox.rs`): `commit()` and `ext()` throw when the host says to
//!   yield, and a flag makes every later host call throw and the interrupt handler stop
//!   the script, so `try`/`catch` cannot turn a yield into a finish.
//! - **Limits**: CPU by an interrupt-handler deadline (host time excluded), memory and
//!   stack by QuickJS's runtime limits; array methods whose native loops QuickJS does not
//!   interrupt refuse impossible lengths (`prelude.js`).
//! - **Compilation** (`script.rs`): a script is the body of a strict function,
//!   checked once to be exactly one body (it cannot close the wrapper and run at global
//!   scope), and compiled once per sandbox (cached by name and source).
//!
//! # Known limits
//!
//! - Some native operations over multi-megabyte strings (`replaceAll` on a string
//!   near the memory limit) run without QuickJS checking its interrupt, and can overrun
//!   the CPU limit by up to about a second; memory bounds them.
//! - QuickJS records positions at calls, property accesses and identifiers: an error
//!   elsewhere may be placed at its expression's start, a timeout in a plain loop has no
//!   line, and on the first line of a script a column may be one off (see
//!   `Script::locate`).
//! - `Date.now(cronExpression)` is refused with a clear error (GenieACS accepts cron
//!   expressions there).
//! - A script's own `throw null` is reported as running out of memory (QuickJS's way of
//!   reporting some allocation failures).
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
