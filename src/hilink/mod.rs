//! The Huawei HiLink web API (B315, B525, B535, B618, E3372h in HiLink mode) as the SMS
//! link needs it: request bodies, answers, tokens, login hashes (`login`, and the SCRAM
//! challenge login of newer firmwares in `scram`) and SMS lists. Pure: no I/O; nothing
//! here panics on any input.

pub mod cesu8;
pub mod errors;
pub mod login;
pub mod scram;
pub mod sms;
pub mod tokens;
pub mod xml;

pub use errors::{Error, ErrorClass, RouterError, error_class, error_words};
pub use sms::{ListRequest, LocalDateTime, Message, SendStatus, SmsList, SmsType};
pub use tokens::Tokens;
pub use xml::{Element, Field};
