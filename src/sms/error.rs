/// A malformed PDU or an impossible request: what is wrong, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct SmsError {
    pub what: String,
    /// Offset into the input where the problem was found (0 for requests).
    pub at: usize,
}

impl SmsError {
    pub fn new(what: impl Into<String>, at: usize) -> SmsError {
        SmsError { what: what.into(), at }
    }
}

pub type Result<T> = std::result::Result<T, SmsError>;
