//! Checks for TLS settings, shared by validation at load and by the links that connect.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// The certificates in a PEM bundle; an error names the file and what is wrong with it.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a readable PEM file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display()));
    }
    Ok(certs)
}

/// A host name or IP address to check a certificate against.
pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string()).map_err(|_| format!("{name:?} is not a DNS name or IP address for TLS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_take_hosts_and_addresses() {
        assert!(server_name("smsc.example.net").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("::1").is_ok());
        assert_eq!(server_name("bad name").unwrap_err(), "\"bad name\" is not a DNS name or IP address for TLS");
    }

    #[test]
    fn ca_file_problems_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(read_ca_file(&missing).unwrap_err().starts_with(&format!("cannot read {}: ", missing.display())));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "just text\n").unwrap();
        assert_eq!(
            read_ca_file(&empty).unwrap_err(),
            format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", empty.display())
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
        assert!(read_ca_file(&broken).unwrap_err().contains("is not a readable PEM file"));
    }
}
