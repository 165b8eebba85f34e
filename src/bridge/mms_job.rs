//! What the MMS jobs (reception and sending) share: the retry split of a failed stage,
//! and POSTing to the configured MMSC.

use std::time::Duration;

use super::BridgeError;
use crate::mmsc::{self, PostError};

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

impl From<PostError> for Failure {
    fn from(e: PostError) -> Failure {
        Failure { transient: e.transient, message: e.message }
    }
}

/// POSTs an MMS PDU to the MMSC (through `mms.proxy` and `mms.interface` if set) and
/// returns the answer's body.
pub(super) async fn post_to_mmsc(url: &str, cfg: &crate::config::MmsConfig, body: Vec<u8>) -> Result<Vec<u8>, Failure> {
    let timeout = Duration::from_secs(cfg.timeout);
    Ok(mmsc::post(url, timeout, cfg.interface.as_deref(), cfg.proxy.as_deref(), body).await?)
}
