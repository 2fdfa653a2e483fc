//! The ACS: the CWMP endpoint CPEs talk to, the northbound API operators use, and the work
//! in between, around the session engine of `acs-core` and a store of `acs-store`.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod config;
pub mod conn_req;
pub mod cwmp_server;
pub mod ext;
pub mod metrics;
pub mod provisioning;
pub mod scripts;
pub mod soap;
pub mod state;
pub mod tls;
pub mod tokens;
