//! The ACS domain, without I/O: who a device is ([`DeviceId`]), what the ACS knows of it
//! ([`device`]), what operators ask of it ([`task`]), how they select devices ([`query`]),
//! what a session changes ([`change`]), which provisioning presets apply to a session
//! ([`preset`]), and the CWMP session engine that turns the gap between what is wanted and
//! what is known into RPCs ([`session`]).
//!
//! Time is an input ([`Timestamp`]); nothing here reads a clock, a socket or a file.
#![forbid(unsafe_code)]

pub mod change;
pub mod device;
pub mod fault;
pub mod id;
mod plan;
pub mod preset;
pub mod provision;
pub mod query;
pub mod session;
pub mod task;
pub mod time;

pub use id::{DeviceId, InvalidDeviceId, InvalidPath, ParameterPath};
pub use time::Timestamp;
