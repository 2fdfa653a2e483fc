//! The parameter tree of one device: a shared immutable template and the device's own
//! changes.
