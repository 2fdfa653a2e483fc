//! The data model of a device: parameter and object definitions (types, access, ranges,
//! enumerations, defaults) from a BBF full data-model XML, a device profile file, or the
//! built-in TR-181 home-gateway profile.
