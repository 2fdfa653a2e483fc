//! The ACS's integration tests of the CWMP endpoint and the API once more, with the store
//! on PostgreSQL: in this test binary (`on_postgres-<hash>`) `common::on_postgres()` is
//! true, and each test's ACS gets a schema of its own, dropped after.
// Each file brings its own `mod common`, as in its own binary.
#![allow(clippy::duplicate_mod)]

#[path = "api.rs"]
mod api;
#[path = "cwmp.rs"]
mod cwmp;
#[path = "provisioning.rs"]
mod provisioning;
