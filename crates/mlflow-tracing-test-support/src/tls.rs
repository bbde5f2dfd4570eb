//! TLS on the receivers: the [`Tls`] modes and the server configurations made from the
//! test certificates, with rustls for HTTP and tonic for gRPC.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tonic::transport::server::ServerTlsConfig;
use tonic::transport::{Certificate, Identity};

use crate::certs::{Certs, certs};

/// TLS on the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plaintext.
    None,
    /// Server certificate only.
    Server,
    /// Server certificate, and a client certificate signed by the CA is required.
    Mutual,
}

/// The rustls configuration for `tls`, with `given` certificates or [`certs()`].
pub(crate) fn http_tls_config(tls: Tls, given: Option<&Certs>) -> Option<Arc<ServerConfig>> {
    let require_client_cert = match tls {
        Tls::None => return None,
        Tls::Server => false,
        Tls::Mutual => true,
    };
    let certs = given.cloned().unwrap_or_else(certs);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS protocol versions");
    let builder = if require_client_cert {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).expect("CA PEM"))
            .expect("CA certificate");
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("client certificate verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain = vec![
        CertificateDer::from_pem_slice(certs.server_cert_pem.as_bytes())
            .expect("server certificate PEM"),
    ];
    let key =
        PrivateKeyDer::from_pem_slice(certs.server_key_pem.as_bytes()).expect("server key PEM");
    let mut config = builder
        .with_single_cert(chain, key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(Arc::new(config))
}

/// The tonic TLS configuration for `tls`, with `given` certificates or [`certs()`].
pub(crate) fn grpc_tls_config(tls: Tls, given: Option<&Certs>) -> Option<ServerTlsConfig> {
    if tls == Tls::None {
        return None;
    }
    let certs = given.cloned().unwrap_or_else(certs);
    let config = ServerTlsConfig::new().identity(Identity::from_pem(
        &certs.server_cert_pem,
        &certs.server_key_pem,
    ));
    Some(if tls == Tls::Mutual {
        config.client_ca_root(Certificate::from_pem(&certs.ca_pem))
    } else {
        config
    })
}
