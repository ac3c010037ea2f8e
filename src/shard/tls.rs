//! SIP over TLS in the shell: the certificates, the rustls configurations,
//! and one TLS session per connection of the stream transport.
//!
//! rustls is sans-IO like our cores: a session takes the bytes read from the
//! socket (`read_tls`, `process_new_packets`), hands out plaintext (its
//! `reader`), takes plaintext to send (its `writer`) and gives back the
//! bytes to write (`write_tls`). So TLS is a layer inside a connection of
//! [`TcpTransport`](super::tcp::TcpTransport): socket bytes go through the
//! session, its plaintext goes through the same `StreamFramer` as TCP's, and
//! its output joins the connection's write buffer. The session lives with
//! the connection on its shard; the SIP core only sees [`Link::Tls`](crate::sip::Link::Tls).
//!
//! The crypto provider is *ring*: it builds with a C compiler alone, where
//! aws-lc-rs (rustls' default) needs cmake and, for some targets, NASM or
//! bindgen, which a fresh Debian machine or the Docker build would have to
//! install; ring covers every cipher suite SIP peers offer (TLS 1.2 and 1.3,
//! ECDHE with AES-GCM or ChaCha20-Poly1305).
//!
//! Peers we connect to are verified against `tls_ca` (webpki: chain and
//! name). callplane does no DNS, so a server is named by its IP address,
//! and its certificate must carry that address as a subjectAltName.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConnection;
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};

use super::tcp::TcpSettings;

/// Settings of SIP over TLS.
#[derive(Clone)]
pub struct TlsSettings {
    /// The address the TLS listener binds (every shard, SO_REUSEPORT).
    pub listen: SocketAddr,
    /// What accepted connections use: our certificate, and the client
    /// verifier when clients must present one.
    pub server: Arc<ServerConfig>,
    /// What connections we open use (`None` without `tls_ca`: we open none).
    pub client: Option<Arc<ClientConfig>>,
    /// A handshake not complete after this is abandoned.
    pub handshake: Duration,
    /// The connection bounds (shared with TCP's settings).
    pub stream: TcpSettings,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("listen", &self.listen)
            .field("client", &self.client.is_some())
            .field("handshake", &self.handshake)
            .finish()
    }
}

/// The files and choices [`TlsSettings::load`] reads.
pub struct TlsFiles<'a> {
    /// Our certificate chain (PEM).
    pub cert: &'a Path,
    /// Its private key (PEM).
    pub key: &'a Path,
    /// The CA certificates peers must chain to (PEM).
    pub ca: Option<&'a Path>,
    /// Clients must present a certificate `ca` vouches for.
    pub verify_clients: bool,
}

impl TlsSettings {
    /// Reads the certificates and builds both configurations. The error is
    /// one line naming the file (or key) and what is wrong with it.
    pub fn load(
        listen: SocketAddr,
        files: &TlsFiles<'_>,
        handshake: Duration,
        stream: TcpSettings,
    ) -> Result<TlsSettings, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = read_certs(files.cert, "sip.tls_cert")?;
        let key = PrivateKeyDer::from_pem_file(files.key).map_err(|err| {
            format!(
                "sip.tls_key: cannot read a private key from {}: {err}",
                files.key.display()
            )
        })?;
        let roots = match files.ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs(ca, "sip.tls_ca")? {
                    roots.add(cert).map_err(|err| {
                        format!("sip.tls_ca: {}: unusable certificate: {err}", ca.display())
                    })?;
                }
                Some(Arc::new(roots))
            }
            None => None,
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|err| format!("sip.tls: {err}"))?;
        let builder = match (&roots, files.verify_clients) {
            (Some(roots), true) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                        .build()
                        .map_err(|err| format!("sip.tls_ca: {err}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let server = builder
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|err| {
                format!(
                    "sip.tls_key: {} does not go with {}: {err}",
                    files.key.display(),
                    files.cert.display()
                )
            })?;
        let client = match roots {
            Some(roots) => Some(Arc::new(client_config(provider, roots, chain, key)?)),
            None => None,
        };
        Ok(TlsSettings {
            listen,
            server: Arc::new(server),
            client,
            handshake,
            stream,
        })
    }
}

/// Our client side: verifies servers against `roots`, and presents our own
/// certificate when a server asks for one.
fn client_config(
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ClientConfig, String> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|err| format!("sip.tls_ca: {err}"))?;
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("sip.tls: {err}"))
        .map(|builder| builder.with_webpki_verifier(verifier))?
        .with_client_auth_cert(chain, key)
        .map_err(|err| format!("sip.tls_key: {err}"))
}

fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|err| format!("{key}: cannot read {}: {err}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("{key}: {}: bad PEM: {err}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{key}: {} holds no certificate", path.display()));
    }
    Ok(certs)
}

/// A new server session for an accepted connection.
pub(crate) fn accept(settings: &TlsSettings) -> Option<Connection> {
    ServerConnection::new(settings.server.clone())
        .ok()
        .map(Connection::Server)
}

/// A new client session to `dest`, named by its IP address; `None` without
/// a client configuration (no `tls_ca`).
pub(crate) fn connect(settings: &TlsSettings, dest: SocketAddr) -> Option<Connection> {
    let client = settings.client.clone()?;
    let name = ServerName::IpAddress(dest.ip().into());
    ClientConnection::new(client, name)
        .ok()
        .map(Connection::Client)
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
