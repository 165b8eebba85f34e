//! Message status feedback: `com.beeper.message_send_status`, read receipts, notices.

use serde_json::{Value, json};

pub const STATUS_EVENT: &str = "com.beeper.message_send_status";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Success,
    FailRetriable,
    FailPermanent,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Success => "SUCCESS",
            Status::FailRetriable => "FAIL_RETRIABLE",
            Status::FailPermanent => "FAIL_PERMANENT",
        }
    }
}

/// What to say about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update<'a> {
    pub status: Status,
    /// One of the `m_…` codes clients know (`m_foreign_network_error`, `m_no_permission`, …).
    pub reason: Option<&'a str>,
    pub message: Option<&'a str>,
    /// Who it reached, once the network reports delivery.
    pub delivered_to: &'a [&'a str],
}

impl<'a> Update<'a> {
    pub fn new(status: Status) -> Update<'a> {
        Update { status, reason: None, message: None, delivered_to: &[] }
    }

    pub fn failed(status: Status, reason: &'a str, message: &'a str) -> Update<'a> {
        Update { status, reason: Some(reason), message: Some(message), delivered_to: &[] }
    }

    pub fn delivered(to: &'a [&'a str]) -> Update<'a> {
        Update { delivered_to: to, ..Update::new(Status::Success) }
    }
}

/// Content of a status event about `event_id`.
pub fn status_content(event_id: &str, u: &Update) -> Value {
    let mut c = json!({
        "network": "sms",
        "m.relates_to": { "rel_type": "m.reference", "event_id": event_id },
        "status": u.status.as_str(),
    });
    if let Some(r) = u.reason {
        c["reason"] = r.into();
    }
    if let Some(m) = u.message {
        c["message"] = m.into();
        c["error"] = m.into();
    }
    if !u.delivered_to.is_empty() {
        c["delivered_to_users"] = json!(u.delivered_to);
    }
    c
}

pub fn notice(body: &str) -> Value {
    json!({ "msgtype": "m.notice", "body": body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shape() {
        let c = status_content("$e", &Update::failed(Status::FailPermanent, "m_foreign_network_error", "no"));
        assert_eq!(c["status"], "FAIL_PERMANENT");
        assert_eq!(c["m.relates_to"]["event_id"], "$e");
        assert_eq!(c["m.relates_to"]["rel_type"], "m.reference");
        assert_eq!(c["reason"], "m_foreign_network_error");
        assert!(c.get("delivered_to_users").is_none());
        let d = status_content("$e", &Update::delivered(&["@g:x"]));
        assert_eq!(d["delivered_to_users"][0], "@g:x");
    }
}
