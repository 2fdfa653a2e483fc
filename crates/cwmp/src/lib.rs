//! The CWMP (TR-069) protocol core.
#![forbid(unsafe_code)]

pub mod auth;
