/// Malformed WSP or MMS bytes: which field, what is wrong with it, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}: {problem}")]
pub struct DecodeError {
    /// The field being read ("MMS header Subject", "part 2 data").
    pub what: String,
    pub problem: String,
    /// Offset from the start of the input.
    pub at: usize,
}

impl DecodeError {
    pub(crate) fn new(what: impl Into<String>, problem: impl Into<String>, at: usize) -> DecodeError {
        DecodeError { what: what.into(), problem: problem.into(), at }
    }
}

/// Something an encoder cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {0}")]
pub struct EncodeError(pub String);
