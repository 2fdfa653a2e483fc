//! XML reading and writing for CWMP envelopes.

mod lexer;
pub(crate) mod reader;
pub(crate) mod writer;
