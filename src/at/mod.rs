//! The AT command language of modems (3GPP TS 27.007 and 27.005) as real devices print
//! it: the byte stream cut into lines and prompts, final results, unsolicited result codes
//! and the answers the SMS link needs. Pure: bytes in, values out; nothing here panics on
//! any input.

pub mod answers;
pub mod errors;
pub mod fields;
pub mod lines;
pub mod reply;
pub mod ussd;

pub use errors::{CmsClass, cme_words, cms_class, cms_words};
pub use lines::{Item, LineReader};
pub use reply::{Final, Urc};
