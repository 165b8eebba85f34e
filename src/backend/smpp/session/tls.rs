//! TLS client settings for a link: which CAs to trust, or (tls_insecure) none at all.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::config::{self, SmppConfig};

/// What a connection needs for its handshake.
pub(super) struct Tls {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl Tls {
    /// None when the link is plain TCP. Read at each connect, so a fixed CA file or newly
    /// installed system roots are picked up by the next attempt.
    pub fn from_config(cfg: &SmppConfig) -> Result<Option<Tls>, String> {
        if !cfg.tls {
            return Ok(None);
        }
        // ring, named here rather than taken from the process default, which reqwest may
        // or may not have installed.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let client = if cfg.tls_insecure {
            let verifier = AcceptAnyCertificate(provider.signature_verification_algorithms);
            builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth()
        } else {
            builder.with_root_certificates(roots(cfg)?).with_no_client_auth()
        };
        Ok(Some(Tls {
            connector: TlsConnector::from(Arc::new(client)),
            server_name: config::server_name(cfg.tls_name())?,
        }))
    }
}

fn roots(cfg: &SmppConfig) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let certs = match &cfg.tls_ca_file {
        Some(path) => config::read_ca_file(path)?,
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(error = %e, "skipped a system root certificate source");
            }
            found.certs
        }
    };
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(match &cfg.tls_ca_file {
            Some(path) => format!("no usable CA certificate in {}", path.display()),
            None => "no system root certificates found (install ca-certificates, or set tls_ca_file)".into(),
        });
    }
    Ok(roots)
}

/// Adds what to do about a failed handshake to its error.
pub(super) fn explain(e: &std::io::Error) -> String {
    let hint = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                " (the SMSC's certificate is not signed by a trusted CA: set tls_ca_file to its CA, or tls_insecure for a lab SMSC)"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                " (set tls_server_name to a name the certificate carries)"
            }
            _ => "",
        },
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => " (is this the SMSC's TLS port?)",
        _ => "",
    };
    format!("{e}{hint}")
}

/// tls_insecure: the certificate is not checked at all, but the handshake signatures
/// still are, so the session is at least bound to the key the SMSC presented.
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_links_need_no_tls() {
        assert!(Tls::from_config(&SmppConfig::default()).unwrap().is_none());
    }

    #[test]
    fn a_missing_ca_file_fails_the_attempt() {
        let cfg = SmppConfig {
            host: "smsc.example.net".into(),
            tls: true,
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..SmppConfig::default()
        };
        let err = Tls::from_config(&cfg).err().unwrap();
        assert!(err.starts_with("cannot read /nonexistent/ca.pem: "), "{err}");
    }

    #[test]
    fn insecure_links_still_name_the_server() {
        let cfg = SmppConfig { host: "10.0.0.5".into(), tls: true, tls_insecure: true, ..SmppConfig::default() };
        let tls = Tls::from_config(&cfg).unwrap().unwrap();
        assert_eq!(tls.server_name, ServerName::try_from("10.0.0.5").unwrap());
    }
}
