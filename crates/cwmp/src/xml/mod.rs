//! XML reading and writing for CWMP envelopes.

pub(crate) mod reader;
pub(crate) mod writer;
