//! Network I/O of a simulated CPE: the HTTP(S) client that carries CWMP sessions to the ACS,
//! the HTTP Connection Request listener, and file transfers.
//!
//! None of these know the CWMP session logic: the device agent (crate `cpe`) hands over and
//! takes back message bodies, and this module applies the HTTP rules of TR-069 around them.
//!
//! * [`client`]: one CWMP session over HTTP/1.1 to the ACS URL (TR-069 §3.4, §3.7.1; notes
//!   §3.1–§3.3): framing headers per message kind, cookies, Digest/Basic, connection reuse
//!   and reconnection, timeouts.
//! * [`conn_req`]: one plain-HTTP listener serving the Connection Requests of many devices,
//!   each at its own random path, with Digest authentication and rate limits (TR-069 §3.2.2;
//!   notes §5.1, §7.2, §7.4).
//! * [`transfer`]: HTTP(S) downloads and uploads for the Download and Upload RPCs (TR-069
//!   §3.4.3; notes §3.6), with the fault codes TransferComplete reports.
//! * [`tls`]: the one TLS client policy shared by sessions and transfers (TR-069 §3.3; notes
//!   §7.1, §7.4): certificate validation against trusted roots, SNI, TLS 1.2 or later, never
//!   a way to skip verification.
//! * [`url`]: the `http`/`https` URL parser both clients use (no user information, bounded).

mod auth;
pub mod client;
pub mod conn_req;
mod http;
pub mod tls;
pub mod transfer;
pub mod url;

pub use client::{
    AcsClient, AcsClientConfig, AuthPolicy, ConfigError, Next, Post, Quirks, SessionDriver,
    SessionError, SessionReport,
};
pub use conn_req::{
    CrConfig, CrListener, CrRegistry, CrServer, CrTarget, RateLimit, RegisterError, Registration,
};
pub use tls::{TlsClientConfig, TlsError};
pub use transfer::{FileTransfer, TransferConfig, TransferFault, validate_url};
pub use url::{HttpUrl, Scheme, UrlError};
