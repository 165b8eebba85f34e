//! Talking to the operator's MMSC over HTTP (POSTing MMS PDUs), shared by reception and
//! sending.

use std::time::Duration;

use super::BridgeError;
use crate::mms;

/// Why a job stage failed, and whether trying again can help.
pub(super) struct Failure {
    pub message: String,
    pub transient: bool,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), transient: false }
    }
}

impl From<BridgeError> for Failure {
    fn from(e: BridgeError) -> Failure {
        Failure { transient: e.is_transient(), message: e.to_string() }
    }
}

/// POSTs an MMS PDU to the MMSC and returns the answer's body.
pub(super) async fn post_to_mmsc(url: &str, cfg: &crate::config::MmsConfig, body: Vec<u8>) -> Result<Vec<u8>, Failure> {
    let net = |e: String| Failure { message: format!("MMSC {url}: {e}"), transient: true };
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(mms::fetch::USER_AGENT)
        .timeout(Duration::from_secs(cfg.timeout));
    if let Some(i) = &cfg.interface {
        b = b.interface(i);
    }
    b = match &cfg.proxy {
        Some(p) => b.proxy(reqwest::Proxy::all(p).map_err(|e| Failure::permanent(format!("mms.proxy: {e}")))?),
        // Only the configured proxy: never one from the environment.
        None => b.no_proxy(),
    };
    let client = b.build().map_err(|e| net(e.to_string()))?;
    let resp = client
        .post(url)
        .header("content-type", mms::push::MMS_CONTENT_TYPE)
        .body(body)
        .send()
        .await
        .map_err(|e| net(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        let transient = status.is_server_error() || status.as_u16() == 429;
        return Err(Failure { message: format!("MMSC {url}: HTTP {status}"), transient });
    }
    let mut out = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await.map_err(|e| net(e.to_string()))? {
        if out.len() + chunk.len() > 1 << 20 {
            return Err(Failure::permanent(format!("MMSC {url}: answer over 1 MiB")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
