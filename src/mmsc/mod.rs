//! HTTP to the operator's MMSC: fetching notified messages under a policy that treats the
//! notification as hostile (SSRF guard, size caps), and posting PDUs. The bytes themselves
//! are encoded and decoded by the pure codec in `crate::mms`.

mod client;
mod error;
mod fetch;
mod policy;
mod post;

pub use client::USER_AGENT;
pub use error::{FetchError, PostError};
pub use fetch::fetch;
pub use policy::{FetchPolicy, check_url, complete_location, is_internal};
pub use post::post;
