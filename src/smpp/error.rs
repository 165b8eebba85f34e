/// A malformed frame or an unencodable PDU: what is wrong, where, and which PDU it was.
///
/// `what` names the PDU and the field ("submit_sm: destination_addr has no NUL within 21
/// octets"). `command_id` and `sequence` are set whenever the header could be read, so the
/// session can answer generic_nack with the right sequence_number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct PduError {
    pub what: String,
    /// Offset from the start of the frame (the first octet of command_length).
    pub at: usize,
    pub command_id: Option<u32>,
    pub sequence: Option<u32>,
}

impl PduError {
    pub(crate) fn new(what: impl Into<String>, at: usize) -> PduError {
        PduError { what: what.into(), at, command_id: None, sequence: None }
    }
}
