//! Test certificates: a CA, a server and a client certificate it signed, and an unrelated
//! second CA, generated once per process with rcgen.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM certificates for tests: a CA, a server certificate for `localhost` and 127.0.0.1
/// and a client certificate both signed by it, and an unrelated second CA.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA that signed the server and client certificates.
    pub ca_pem: String,
    /// The server certificate (`localhost`, 127.0.0.1).
    pub server_cert_pem: String,
    /// The server's PKCS#8 key.
    pub server_key_pem: String,
    /// The client certificate.
    pub client_cert_pem: String,
    /// The client's PKCS#8 key.
    pub client_key_pem: String,
    /// A CA that signed nothing here.
    pub other_ca_pem: String,
}

/// Paths of the PEM files written by [`Certs::write_to`].
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// `ca.pem`.
    pub ca: PathBuf,
    /// `client.pem`.
    pub client_cert: PathBuf,
    /// `client.key`.
    pub client_key: PathBuf,
    /// `other-ca.pem`.
    pub other_ca: PathBuf,
}

/// The test certificates, generated once per process (every call returns the same).
pub fn certs() -> Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(generate_certs).clone()
}

impl Certs {
    /// Writes the PEMs into `dir` as `ca.pem`, `server.pem`, `server.key`, `client.pem`,
    /// `client.key` and `other-ca.pem`.
    pub fn write_to(&self, dir: &Path) -> CertFiles {
        let write = |name: &str, pem: &str| {
            let path = dir.join(name);
            std::fs::write(&path, pem)
                .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
            path
        };
        write("server.pem", &self.server_cert_pem);
        write("server.key", &self.server_key_pem);
        CertFiles {
            ca: write("ca.pem", &self.ca_pem),
            client_cert: write("client.pem", &self.client_cert_pem),
            client_key: write("client.key", &self.client_key_pem),
            other_ca: write("other-ca.pem", &self.other_ca_pem),
        }
    }
}

/// Generates a fresh set of [`Certs`].
fn generate_certs() -> Certs {
    let (ca_pem, ca) = new_ca("mlflow-tracing test CA");
    let (other_ca_pem, _) = new_ca("unrelated test CA");
    let (server_cert_pem, server_key_pem) = new_leaf(
        &ca,
        "localhost",
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert_pem, client_key_pem) =
        new_leaf(&ca, "test client", &[], ExtendedKeyUsagePurpose::ClientAuth);
    Certs {
        ca_pem,
        server_cert_pem,
        server_key_pem,
        client_cert_pem,
        client_key_pem,
        other_ca_pem,
    }
}

/// A self-signed CA: its PEM and the issuer to sign with.
fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert.pem(), Issuer::new(params, key))
}

/// A certificate signed by `issuer`: its PEM and its key's PEM.
fn new_leaf(
    issuer: &Issuer<'_, KeyPair>,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("certificate names");
    params.distinguished_name.push(DnType::CommonName, name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("certificate key");
    let cert = params.signed_by(&key, issuer).expect("certificate");
    (cert.pem(), key.serialize_pem())
}
