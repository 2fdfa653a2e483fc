//! The device agent: events, sessions, retries, transfers, reboots.
