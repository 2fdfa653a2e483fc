//! `cpe-sim`: the I/O around the [`cpe`] agent — the HTTP(S) client that carries sessions to
//! the ACS, the Connection Request listener, file transfers — and the fleet that runs one
//! device or 100,000 in one process.
#![forbid(unsafe_code)]

pub mod device;
pub mod fleet;
pub mod net;
pub mod persist;
pub mod quirks;
pub mod serial;
pub mod stats;

pub use fleet::{DeviceInfo, Fleet, FleetConfig, FleetError, SentLog};
pub use stats::{Stats, Summary};
