//! `cpe-sim`: the I/O around the [`cpe`] agent — the HTTP(S) client that carries sessions to
//! the ACS, the Connection Request listener, file transfers — and the fleet that runs one
//! device or 100,000 in one process.
#![forbid(unsafe_code)]

pub mod net;
