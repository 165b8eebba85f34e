//! Delivery reports for Kannel clients: the `dlr-mask` bits and the `dlr-url` escapes,
//! expanded as Kannel's `urltrans_fill_escape_codes` does for a report.

use crate::message::DeliveryStatus;

use super::form::url_encode;

/// `dlr-mask` bits, as in Kannel's `gw/dlr.h`.
pub mod dlr_mask {
    /// Delivered to the phone.
    pub const DELIVERED: u8 = 0x01;
    /// Not delivered to the phone.
    pub const FAILED: u8 = 0x02;
    /// Queued on the SMSC (not final).
    pub const BUFFERED: u8 = 0x04;
    /// Accepted by the SMSC (not final).
    pub const SMSC_SUCCESS: u8 = 0x08;
    /// Rejected by the SMSC.
    pub const SMSC_FAIL: u8 = 0x10;
}

/// The `%d` value for a delivery report from a link.
pub fn dlr_kind(status: DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Delivered => dlr_mask::DELIVERED,
        DeliveryStatus::Failed => dlr_mask::FAILED,
        DeliveryStatus::Pending => dlr_mask::BUFFERED,
    }
}

/// One delivery report for a message sent through `sendsms`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dlr {
    /// One of the [`dlr_mask`] bits (`%d`); sent only when the request's mask has it.
    pub kind: u8,
    /// The phone the message went to (`%p`, `%q`).
    pub receiver: String,
    /// The sender the message went out with (`%P`, `%Q`).
    pub sender: String,
    /// When the report was made, Unix seconds (`%t`, `%T`).
    pub timestamp: i64,
    /// The link (`%i`).
    pub smsc_id: String,
    /// Our id for the message (`%I`; a UUID in Kannel).
    pub message_id: String,
    /// The SMSC's id for the message (`%F`).
    pub foreign_id: String,
    /// The SMSC's report text, e.g. `id:… stat:DELIVRD err:000` or `ACK/` (`%A`, `%b`,
    /// and its words for `%k %s %S %r %a`).
    pub answer: String,
    /// The SMSC's error code, if any (`%B`: for SMPP reports Kannel puts `err` there).
    pub failure_code: Option<String>,
    /// The sendsms user's name (`%n`).
    pub service: String,
    /// The request's `account` (`%o`).
    pub account: Option<String>,
}

/// `template` with Kannel's escapes replaced: values URL-encoded as Kannel does (space as
/// `+`), `%%` as `%`, unknown escapes and a final lone `%` left as written. Escapes Kannel
/// fills from fields a report does not carry here (`%c %C %m %M %O %u %R %D %f`) become
/// empty.
pub fn expand_dlr_url(template: &str, dlr: &Dlr) -> String {
    let words: Vec<&str> = dlr.answer.split_ascii_whitespace().collect();
    let enc = |s: &str| url_encode(s.as_bytes());
    let mut next_word = 1;
    super::escapes::fill(template, |e| {
        Some(match e {
            'd' => dlr.kind.to_string(),
            'p' => enc(&dlr.receiver),
            'P' => enc(&dlr.sender),
            'q' => plus_for_00(&dlr.receiver),
            'Q' => plus_for_00(&dlr.sender),
            't' => gmt(dlr.timestamp),
            'T' => dlr.timestamp.to_string(),
            'A' | 'b' => enc(&dlr.answer),
            'i' => enc(&dlr.smsc_id),
            'I' => enc(&dlr.message_id),
            'F' => enc(&dlr.foreign_id),
            'B' => enc(dlr.failure_code.as_deref().unwrap_or("")),
            'n' => enc(&dlr.service),
            'o' => enc(dlr.account.as_deref().unwrap_or("")),
            'k' => enc(words.first().copied().unwrap_or("")),
            'a' => join_encoded(&words),
            's' | 'S' => {
                let w = words.get(next_word).copied().unwrap_or("");
                if words.get(next_word).is_some() {
                    next_word += 1;
                }
                // %S is the one escape Kannel leaves unencoded, with '*' as '~'.
                if e == 's' { enc(w) } else { w.replace('*', "~") }
            }
            'r' => join_encoded(words.get(next_word..).unwrap_or(&[])),
            'c' | 'C' | 'm' | 'M' | 'O' | 'u' | 'R' | 'D' | 'f' => String::new(),
            _ => return None,
        })
    })
}

fn join_encoded(words: &[&str]) -> String {
    words.iter().map(|w| url_encode(w.as_bytes())).collect::<Vec<_>>().join("+")
}

/// `%q`/`%Q`: a leading `00` written as an encoded `+`.
fn plus_for_00(number: &str) -> String {
    match number.strip_prefix("00") {
        Some(rest) => format!("%2B{}", url_encode(rest.as_bytes())),
        None => url_encode(number.as_bytes()),
    }
}

/// `%t`: GMT as `YYYY-MM-DD+HH:MM:SS` (the `+` an encoded space).
fn gmt(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map(|t| t.strftime("%Y-%m-%d+%H:%M:%S").to_string()).unwrap_or_default()
}
