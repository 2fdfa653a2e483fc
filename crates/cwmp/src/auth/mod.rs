//! HTTP authentication helpers.
