//! TLS for the connections Flare opens itself (an agent's IMAP mailbox, Discord's Gateway):
//! rustls with aws-lc-rs and the platform's certificate store, as the SMTP relay and the HTTP
//! clients use.

use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};

/// A connection, encrypted or not.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

fn connector() -> Result<tokio_rustls::TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<tokio_rustls::rustls::ClientConfig>, String>> =
        OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        use rustls_platform_verifier::BuilderVerifierExt;
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_platform_verifier())
            .map(|b| Arc::new(b.with_no_client_auth()))
            .map_err(|e| format!("TLS cannot be set up: {e}"))
    });
    config.clone().map(tokio_rustls::TlsConnector::from)
}

/// Wraps `tcp` in TLS to `host`, its certificate checked, within `deadline`.
pub async fn upgrade(
    host: &str,
    tcp: tokio::net::TcpStream,
    deadline: std::time::Duration,
) -> Result<Box<dyn Stream>, String> {
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is not a host name TLS can check"))?;
    match tokio::time::timeout(deadline, connector()?.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(Box::new(stream)),
        Ok(Err(e)) => Err(format!("the TLS handshake with {host} failed: {e}")),
        Err(_) => Err(format!(
            "the TLS handshake with {host} took longer than {} s",
            deadline.as_secs()
        )),
    }
}
