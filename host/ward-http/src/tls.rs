//! Root certificates trusted for https, and the TLS client configuration built from them.

use std::sync::Arc;

/// Root certificates trusted for https in addition to the built-in web roots.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoots {
    certs: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Why a PEM file of root certificates was refused.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    /// The PEM text holds a certificate block that does not decode.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// The PEM text holds no `CERTIFICATE` block.
    #[error("no CERTIFICATE block in the PEM text")]
    Empty,
    /// A certificate that cannot be a trust anchor.
    #[error("certificate {index} is not a usable root certificate: {reason}")]
    Unusable {
        /// Its position in the file, from 1.
        index: usize,
        /// Why.
        reason: String,
    },
}

impl TrustedRoots {
    /// Adds every `CERTIFICATE` block of `pem`, refusing the whole text if any block is invalid
    /// or none is present.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, RootsError> {
        use rustls::pki_types::pem::PemObject as _;
        let mut found = Vec::new();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
            found.push(cert.map_err(|e| RootsError::Pem(e.to_string()))?);
        }
        if found.is_empty() {
            return Err(RootsError::Empty);
        }
        let mut probe = rustls::RootCertStore::empty();
        for (i, cert) in found.iter().enumerate() {
            probe.add(cert.clone()).map_err(|e| RootsError::Unusable {
                index: i + 1,
                reason: e.to_string(),
            })?;
        }
        let n = found.len();
        self.certs.extend(found);
        Ok(n)
    }

    /// The TLS client configuration for https: the built-in web roots and these. `None` when it
    /// cannot be built; every https request then fails closed with a configuration error.
    pub(crate) fn client_config(&self) -> Option<Arc<rustls::ClientConfig>> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        // Each was checked by `TrustedRoots::add_pem`; one that fails here makes every https
        // request fail closed with a configuration error.
        let extra_ok = self
            .certs
            .iter()
            .all(|cert| roots.add(cert.clone()).is_ok());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        // The ring provider supports the default protocol versions; should that ever fail, every
        // https request fails closed with a configuration error.
        tls.ok().filter(|_| extra_ok).map(Arc::new)
    }

    /// How many certificates were added.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether none was added.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}
