//! POSTing MMS PDUs (m-send-req, m-notifyresp-ind, m-acknowledge-ind) to the configured
//! MMSC, and reading its answer.

use std::time::Duration;

use super::PostError;
use super::client::{self, ClientError, Route};
use crate::mms;

/// Largest answer read; an m-send-conf is a few hundred bytes.
const MAX_ANSWER: usize = 1 << 20;

/// POSTs `body` to `url` and returns the answer's body.
pub async fn post(
    url: &str,
    timeout: Duration,
    interface: Option<&str>,
    proxy: Option<&str>,
    body: Vec<u8>,
) -> Result<Vec<u8>, PostError> {
    let net = |e: String| PostError { message: format!("MMSC {url}: {e}"), transient: true };
    let route = proxy.map_or(Route::Direct, Route::Proxy);
    let client = client::build(timeout, interface, route).map_err(|e| match e {
        ClientError::Proxy { why, .. } => PostError { message: format!("mms.proxy: {why}"), transient: false },
        ClientError::Build(why) => net(why),
    })?;
    let mut resp = client
        .post(url)
        .header("content-type", mms::push::MMS_CONTENT_TYPE)
        .body(body)
        .send()
        .await
        .map_err(|e| net(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        let transient = status.is_server_error() || status.as_u16() == 429;
        return Err(PostError { message: format!("MMSC {url}: HTTP {status}"), transient });
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| net(e.to_string()))? {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(PostError { message: format!("MMSC {url}: answer over 1 MiB"), transient: false });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
