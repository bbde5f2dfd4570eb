//! TLS material from the `OTEL_EXPORTER_OTLP_*CERTIFICATE` / `*CLIENT_KEY` files, read and
//! checked when the pipeline is built so that a bad file is an error naming its variable.

use std::path::PathBuf;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::otlp::TlsFiles;
use crate::config::{ConfigError, Setting};

/// PEM files read from disk and checked.
#[derive(Clone, Default)]
pub(crate) struct TlsMaterial {
    /// Trusted CA certificates, instead of the system roots.
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// Client certificate chain and key, for mutual TLS.
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_identity", &self.identity.is_some())
            .finish()
    }
}

/// Reads the PEM file a setting names; an error names the variable (`fallback` when the
/// path was not read from the environment).
fn read(
    setting: &Setting<PathBuf>,
    fallback: &'static str,
    what: &str,
) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(&setting.value).map_err(|e| {
        ConfigError::new(
            setting.variable_or(fallback),
            &setting.value.display().to_string(),
            format!("a readable {what} PEM file ({e})"),
        )
    })
}

/// Reads a PEM file that must hold at least one certificate.
fn read_certificates(
    setting: &Setting<PathBuf>,
    fallback: &'static str,
    what: &str,
) -> Result<Vec<u8>, ConfigError> {
    let pem = read(setting, fallback, what)?;
    if CertificateDer::pem_slice_iter(&pem)
        .flatten()
        .next()
        .is_none()
    {
        return Err(ConfigError::new(
            setting.variable_or(fallback),
            &setting.value.display().to_string(),
            "a PEM file with at least one CERTIFICATE block",
        ));
    }
    Ok(pem)
}

impl TlsMaterial {
    pub(crate) fn load(files: &TlsFiles) -> Result<TlsMaterial, ConfigError> {
        let mut material = TlsMaterial::default();
        if let Some(ca) = &files.certificate {
            material.ca_pem = Some(read_certificates(
                ca,
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "CA certificate",
            )?);
        }
        if let (Some(cert), Some(key)) = (&files.client_certificate, &files.client_key) {
            let cert_pem = read_certificates(
                cert,
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                "client certificate",
            )?;
            let key_pem = read(key, "OTEL_EXPORTER_OTLP_CLIENT_KEY", "private key")?;
            if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
                return Err(ConfigError::new(
                    key.variable_or("OTEL_EXPORTER_OTLP_CLIENT_KEY"),
                    &key.value.display().to_string(),
                    "a PEM file with a PRIVATE KEY block (PKCS#8, PKCS#1 or SEC1)",
                ));
            }
            material.identity = Some((cert_pem, key_pem));
        }
        Ok(material)
    }

    /// A rustls client configuration: the custom CA (else the system's roots) and the
    /// client identity when given.
    #[cfg(feature = "otlp-http")]
    pub(crate) fn rustls_config(&self) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem).flatten() {
                    roots
                        .add(cert)
                        .map_err(|e| format!("invalid CA certificate: {e}"))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for cert in native.certs {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err("no system CA certificates were found; set \
                                OTEL_EXPORTER_OTLP_CERTIFICATE to the receiver's CA"
                        .to_owned());
                }
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        match &self.identity {
            Some((cert_pem, key_pem)) => {
                let certs: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_slice_iter(cert_pem).flatten().collect();
                let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| e.to_string())?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| format!("invalid client certificate or key: {e}"))
            }
            None => Ok(builder.with_no_client_auth()),
        }
    }
}
