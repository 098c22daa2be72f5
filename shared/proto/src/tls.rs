//! Optional TLS of the gRPC services (rustls, ring): a server with a certificate and key serves TLS only;
//! a client of an `https://` URL trusts the CA certificate it is given. Bearer tokens ([`crate::auth`])
//! work the same over either.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{set} is set but {unset} is not: TLS needs both (or neither, for plaintext)")]
    Half { set: &'static str, unset: &'static str },
    #[error("cannot read {what} {path}: {source}")]
    Read { what: &'static str, path: String, source: std::io::Error },
    #[error("{url} is https: set tls_ca_path to the CA certificate (PEM) that signed the server's certificate")]
    NoCa { url: String },
    #[error("{what}: {source}")]
    Transport { what: String, source: tonic::transport::Error },
}

fn read(what: &'static str, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(Path::new(path)).map_err(|source| TlsError::Read { what, path: path.to_string(), source })
}

/// The server TLS of `tls_cert_path` and `tls_key_path` (PEM files); `None` when both are empty.
///
/// # Errors
/// [`TlsError::Half`] when only one is set, [`TlsError::Read`] when a file cannot be read.
pub fn server_tls(cert_path: &str, key_path: &str) -> Result<Option<ServerTlsConfig>, TlsError> {
    match (cert_path.trim(), key_path.trim()) {
        ("", "") => Ok(None),
        (_, "") => Err(TlsError::Half { set: "tls_cert_path", unset: "tls_key_path" }),
        ("", _) => Err(TlsError::Half { set: "tls_key_path", unset: "tls_cert_path" }),
        (cert, key) => Ok(Some(ServerTlsConfig::new().identity(Identity::from_pem(read("tls_cert_path", cert)?, read("tls_key_path", key)?)))),
    }
}

/// A server builder serving TLS when `tls` is `Some`.
///
/// # Errors
/// [`tonic::transport::Error`] when the certificate or key does not parse.
pub fn server(tls: Option<ServerTlsConfig>) -> Result<Server, tonic::transport::Error> {
    match tls {
        Some(tls) => Server::builder().tls_config(tls),
        None => Ok(Server::builder()),
    }
}

/// The endpoint of `url`: plaintext for `http://`; for `https://`, TLS trusting the CA certificate at
/// `ca_path` (PEM), which is then required.
///
/// # Errors
/// [`TlsError`] for a bad URL, a missing or unreadable CA file.
pub fn endpoint(url: &str, ca_path: &str) -> Result<Endpoint, TlsError> {
    let endpoint = Endpoint::from_shared(url.to_string()).map_err(|source| TlsError::Transport { what: format!("url {url:?}"), source })?;
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    if ca_path.trim().is_empty() {
        return Err(TlsError::NoCa { url: url.to_string() });
    }
    let ca = Certificate::from_pem(read("tls_ca_path", ca_path.trim())?);
    endpoint.tls_config(ClientTlsConfig::new().ca_certificate(ca)).map_err(|source| TlsError::Transport { what: format!("TLS for {url}"), source })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn half_a_pair_missing_files_and_https_without_ca_are_refused() {
        assert!(server_tls("", " ").unwrap().is_none());
        assert!(server_tls("c.pem", "").unwrap_err().to_string().contains("tls_key_path"));
        assert!(server_tls("", "k.pem").unwrap_err().to_string().contains("tls_cert_path"));
        let e = server_tls("/nonexistent/c.pem", "/nonexistent/k.pem").unwrap_err().to_string();
        assert!(e.contains("tls_cert_path /nonexistent/c.pem"), "{e}");
        assert!(endpoint("http://127.0.0.1:1", "").is_ok());
        assert!(endpoint("https://127.0.0.1:1", "").unwrap_err().to_string().contains("tls_ca_path"));
        assert!(endpoint("https://127.0.0.1:1", "/nonexistent/ca.pem").unwrap_err().to_string().contains("/nonexistent/ca.pem"));
    }
}
