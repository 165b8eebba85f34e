//! The SMS codec: alphabets, user data headers, TPDUs, splitting and reassembly.
//! Pure: no I/O, no async; every decoder returns an error value on bad input, never panics.

pub mod address;
pub mod build;
pub mod dcs;
pub mod describe;
mod error;
pub mod gsm7;
pub mod lenient;
pub mod national;
pub mod reassembly;
pub mod split;
pub mod time;
pub mod tpdu;
pub mod ucs2;
pub mod udh;

pub use error::{Result, SmsError};
