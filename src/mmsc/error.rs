//! What can go wrong talking to the MMSC, split by whether trying again can help.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL breaks the policy; retrying cannot help.
    #[error("refused {url}: {why}")]
    Refused { url: String, why: String },
    #[error("{url} is larger than the {limit}-byte limit ({size})")]
    TooLarge { url: String, limit: u64, size: String },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {why}")]
    Network { url: String, why: String },
}

impl FetchError {
    /// Worth trying again later: network trouble and 5xx/408/429.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Network { .. } => true,
            FetchError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }
}

/// A POST to the MMSC that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PostError {
    pub message: String,
    pub transient: bool,
}

impl PostError {
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}
