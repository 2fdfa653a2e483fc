//! The CPE side of CWMP, without I/O: what a device knows ([`model`], [`tree`]), how it
//! answers the ACS's parameter methods, and the device agent ([`agent`]) that decides when
//! to open a session, what to say in it, and what to do after it (reboot, transfers,
//! diagnostics). Time is an input ([`Time`]); nothing here reads a clock, opens a socket or
//! touches a file, as in quinn-proto: `cpe-sim` (and anyone embedding the agent) puts the
//! I/O around it.
#![forbid(unsafe_code)]

pub mod agent;
pub mod data_model;
pub mod model;
pub mod time;
pub mod tree;

pub use data_model::DataModel;
pub use time::Time;
