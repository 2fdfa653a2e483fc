//! Bounds on what the decoder accepts, against hostile input (notes §7.3).

/// Limits applied while decoding one envelope. Every limit is checked before the work it
/// bounds is done, so a hostile body costs at most the limits, never more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes. An Inform is a few KiB; a GetParameterNamesResponse
    /// for a whole TR-181 tree of 20,000 parameters is about 2.5 MiB.
    pub max_body_bytes: usize,
    /// Deepest element nesting. The deepest CWMP structure is 7 levels
    /// (`Envelope/Body/GetParameterAttributesResponse/ParameterList/ParameterAttributeStruct/AccessList/string`).
    pub max_depth: usize,
    /// Most elements in one envelope (three per parameter in a GetParameterValuesResponse).
    pub max_elements: usize,
    /// Most attributes on one element.
    pub max_attributes: usize,
}

impl Limits {
    /// The defaults: 4 MiB, depth 32, 200,000 elements, 32 attributes per element.
    pub const DEFAULT: Limits = Limits {
        max_body_bytes: 4 * 1024 * 1024,
        max_depth: 32,
        max_elements: 200_000,
        max_attributes: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
