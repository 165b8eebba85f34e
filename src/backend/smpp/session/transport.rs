//! The byte stream under SMPP: plain TCP, or TLS over it. Either way the connection gets
//! a read half and a write half, so everything above is the same for both.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::tls::{self, Tls};

pub(super) type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
pub(super) type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Connects to `addr`, with the TLS handshake when `tls` is set. Errors name the address
/// and the reason.
pub(super) async fn connect(addr: &str, tls: Option<&Tls>) -> Result<(ReadHalf, WriteHalf), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        // TCP splits without a lock; only TLS needs tokio's shared split.
        let (rd, wr) = stream.into_split();
        return Ok((Box::new(rd), Box::new(wr)));
    };
    let stream = tls
        .connector
        .connect(tls.server_name.clone(), stream)
        .await
        .map_err(|e| format!("TLS handshake with {addr} failed: {}", tls::explain(&e)))?;
    let (rd, wr) = tokio::io::split(stream);
    Ok((Box::new(rd), Box::new(wr)))
}
