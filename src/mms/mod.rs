//! MMS: the WSP encodings underneath, WAP push, and MMS PDUs (decode and encode). Pure: no
//! I/O, so the bridge, the `decode` tool, the fuzzers and the benchmark share it.

mod charset;
pub mod describe;
pub mod encode;
mod error;
mod headers;
mod multipart;
pub mod pdu;
pub mod push;
pub mod tables;
pub mod wsp;

pub use charset::{Text, decode as decode_text};
pub use encode::encode;
pub use error::{DecodeError, EncodeError};
pub use headers::Headers;
pub use multipart::Part;
pub use pdu::{From, Message, MessageType, TimeValue, decode};
pub use push::WapPush;
pub use wsp::ContentType;
