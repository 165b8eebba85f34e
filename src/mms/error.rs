/// Malformed WSP or MMS bytes: which field, what is wrong with it, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}: {problem}")]
pub struct DecodeError {
    /// The field being read ("MMS header Subject", "part 2 data").
    pub what: String,
    pub problem: String,
    /// Offset from the start of the input.
    pub at: usize,
    /// Set when the message has more parts than the caller allowed.
    too_many_parts: Option<TooManyParts>,
}

/// A message with more parts than the caller allowed: well formed, but refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyParts {
    /// Parts declared so far (every level of nesting) when the limit was passed.
    pub declared: usize,
    pub limit: usize,
}

impl DecodeError {
    pub(crate) fn new(what: impl Into<String>, problem: impl Into<String>, at: usize) -> DecodeError {
        DecodeError { what: what.into(), problem: problem.into(), at, too_many_parts: None }
    }

    pub(crate) fn too_many_parts(what: impl Into<String>, over: TooManyParts, at: usize) -> DecodeError {
        let problem = format!("{} parts declared, over the limit of {}", over.declared, over.limit);
        DecodeError { too_many_parts: Some(over), ..DecodeError::new(what, problem, at) }
    }

    /// Whether this is a part limit refusal rather than malformed bytes.
    pub fn parts_over_limit(&self) -> Option<TooManyParts> {
        self.too_many_parts
    }
}

/// Something an encoder cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {0}")]
pub struct EncodeError(pub String);
