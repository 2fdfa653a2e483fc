//! The TLS client policy of the simulated CPE, shared by CWMP sessions and file transfers.
//!
//! TR-069 §3.3 (Amd 6; notes §7.1, §7.4):
//!
//! * the CPE MUST authenticate the ACS with its certificate, validated against a trusted root,
//!   matching the host of the ACS URL (subjectAltName);
//! * it SHOULD send SNI (RFC 6066) with that host;
//! * TLS 1.2 or later only (RFC 7525 §3.1.1), no fallback to older versions or to plain HTTP
//!   (§3.1.3);
//! * no TLS compression (rustls has none).
//!
//! [`TlsClientConfig`] can only be built here, from trusted roots (Mozilla's, from the
//! `webpki-roots` crate, plus optional extra CA certificates such as a lab's private CA).
//! There is deliberately no way to turn certificate or host-name verification off: a CPE that
//! skips validation lets anyone impersonate the ACS (notes §7.2), and a simulator option to do
//! so would end up in production configurations.
//!
//! One configuration is meant to be built once and shared (it is an `Arc`) by every simulated
//! device of a process: the roots and the TLS session cache are then held once.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why a TLS client configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O or PEM error.
        reason: String,
    },
    /// PEM text is malformed.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// PEM text holds no `CERTIFICATE` block.
    #[error("no certificate in the PEM text")]
    NoCertificate,
    /// A certificate cannot serve as a trust anchor.
    #[error("unusable CA certificate: {0}")]
    BadCertificate(String),
    /// No root at all: Mozilla's roots are off and no CA was added.
    #[error("no trusted root certificate configured")]
    NoRoots,
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A rustls client configuration that follows the policy of this module. Cheap to clone.
#[derive(Clone)]
pub struct TlsClientConfig {
    inner: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("alpn", &self.inner.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl TlsClientConfig {
    /// Mozilla's roots only: what a CPE talking to a public ACS uses. Built once per process
    /// and shared: parsing the roots for each of 100,000 simulated devices would cost seconds
    /// and hundreds of megabytes.
    pub fn webpki_roots() -> Result<TlsClientConfig, TlsError> {
        static SHARED: OnceLock<Result<TlsClientConfig, TlsError>> = OnceLock::new();
        SHARED
            .get_or_init(|| TlsClientConfig::builder().build())
            .clone()
    }

    /// A builder starting with Mozilla's roots and no extra CA.
    pub fn builder() -> TlsClientConfigBuilder {
        TlsClientConfigBuilder {
            webpki_roots: true,
            extra: Vec::new(),
        }
    }

    /// The connector used to open TLS connections.
    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(Arc::clone(&self.inner))
    }
}

/// Builds a [`TlsClientConfig`].
#[derive(Debug, Clone)]
pub struct TlsClientConfigBuilder {
    webpki_roots: bool,
    extra: Vec<CertificateDer<'static>>,
}

impl TlsClientConfigBuilder {
    /// Whether Mozilla's roots (the `webpki-roots` crate) are trusted; on by default. Turn
    /// them off to trust only the CAs added here (a lab ACS with a private CA).
    #[must_use]
    pub fn webpki_roots(mut self, trusted: bool) -> Self {
        self.webpki_roots = trusted;
        self
    }

    /// Trusts every `CERTIFICATE` of a PEM text (other blocks are skipped).
    pub fn add_ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        let before = self.extra.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            self.extra
                .push(cert.map_err(|e| TlsError::Pem(e.to_string()))?);
        }
        if self.extra.len() == before {
            return Err(TlsError::NoCertificate);
        }
        Ok(self)
    }

    /// Trusts every `CERTIFICATE` of a PEM file.
    pub fn add_ca_pem_file(self, path: &Path) -> Result<Self, TlsError> {
        let pem = std::fs::read(path).map_err(|e| TlsError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.add_ca_pem(&pem)
    }

    /// Trusts one DER certificate.
    #[must_use]
    pub fn add_ca_der(mut self, der: CertificateDer<'static>) -> Self {
        self.extra.push(der);
        self
    }

    /// Builds the configuration: TLS 1.3 and 1.2 only, ring as the crypto provider, the
    /// roots above, no client certificate, ALPN `http/1.1`.
    pub fn build(self) -> Result<TlsClientConfig, TlsError> {
        let mut roots = RootCertStore::empty();
        if self.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for cert in self.extra {
            roots
                .add(cert)
                .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(TlsError::NoRoots);
        }
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsClientConfig {
            inner: Arc::new(config),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn mozilla_roots_build_once() {
        let a = TlsClientConfig::webpki_roots().unwrap();
        let b = TlsClientConfig::webpki_roots().unwrap();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
    }

    #[test]
    fn no_roots_is_an_error() {
        assert_eq!(
            TlsClientConfig::builder()
                .webpki_roots(false)
                .build()
                .unwrap_err(),
            TlsError::NoRoots
        );
    }

    #[test]
    fn pem_without_certificate_is_an_error() {
        assert_eq!(
            TlsClientConfig::builder()
                .add_ca_pem(b"not pem at all")
                .unwrap_err(),
            TlsError::NoCertificate
        );
    }

    #[test]
    fn garbage_certificate_is_refused() {
        let result = TlsClientConfig::builder()
            .webpki_roots(false)
            .add_ca_der(CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]))
            .build();
        assert!(matches!(result, Err(TlsError::BadCertificate(_))));
    }

    #[test]
    fn missing_file_is_an_error() {
        let result = TlsClientConfig::builder().add_ca_pem_file(Path::new("/nonexistent/ca.pem"));
        assert!(matches!(result, Err(TlsError::Read { .. })));
    }
}
