//! Kannel compatibility, as pure values: a `/cgi-bin/sendsms` request read into a
//! [`SendSms`], Kannel's answer lines and status codes, and `dlr-url` expansion.
//!
//! No I/O here: the HTTP listener authenticates, applies the user's config (default and
//! forced smsc, default sender) and commits the messages, then answers with
//! [`accepted_answer`] or a [`SendsmsError`].
//!
//! Behaviour follows Kannel's `gw/smsbox.c` (`smsbox_req_sendsms`, `smsbox_req_handle`),
//! `gw/urltrans.c` (`urltrans_fill_escape_codes`) and `gwlib/octstr.c` (URL coding).

mod answer;
mod charset;
mod dlr;
pub mod escapes;
mod form;
mod sendsms;

#[cfg(test)]
mod tests;

pub use answer::{Field, SendsmsError, accepted_answer};
pub use charset::decode_text;
pub use dlr::{Dlr, dlr_kind, dlr_mask, expand_dlr_url};
pub use form::{FormError, Pair, parse_form, url_encode};
pub use sendsms::{Coding, Payload, SendSms, parse_sendsms};
