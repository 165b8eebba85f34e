//! SMPP 3.4 PDU codec: pure, no I/O. The tokio session lives in `backend::smpp`.
//!
//! `frame_len` checks a frame's declared length before the session reads the rest;
//! `decode`/`encode` turn whole frames into `Pdu`s and back. Decoding never panics and
//! never trusts a length field it has not checked against the bytes present.

mod decode;
mod encode;
mod error;
pub mod pdu;
pub mod receipt;
pub mod status;
pub mod tlv;

#[cfg(test)]
mod tests;

pub use decode::{decode, frame_len};
pub use encode::{encode, encode_into};
pub use error::PduError;
pub use pdu::*;
pub use receipt::{MessageState, Receipt};
pub use tlv::{Tlv, TlvList};
