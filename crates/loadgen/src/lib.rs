//! Load generation for the ACS: `acs-loadgen` runs CWMP sessions as CPEs do (Inform,
//! InformResponse, empty POST, 204), each on a new TCP connection, and reports throughput,
//! latency, failures and CPU; `acs-baseline` answers the same exchanges with fixed bytes,
//! the reference the ACS is compared with. See `bench/sessions.sh`.

pub mod baseline;
pub mod inform;
pub mod procstat;
pub mod run;
pub mod session;
