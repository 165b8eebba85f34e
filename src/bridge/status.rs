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

/// Content of a status event about `event_id`.
/// `reason` is one of the `m_…` codes clients know (`m_foreign_network_error`, `m_no_permission`, …).
pub fn status_content(
    event_id: &str,
    status: Status,
    reason: Option<&str>,
    message: Option<&str>,
    delivered_to: &[&str],
) -> Value {
    let mut c = json!({
        "network": "sms",
        "m.relates_to": { "rel_type": "m.reference", "event_id": event_id },
        "status": status.as_str(),
    });
    if let Some(r) = reason {
        c["reason"] = r.into();
    }
    if let Some(m) = message {
        c["message"] = m.into();
        c["error"] = m.into();
    }
    if !delivered_to.is_empty() {
        c["delivered_to_users"] = json!(delivered_to);
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
        let c = status_content("$e", Status::FailPermanent, Some("m_foreign_network_error"), Some("no"), &[]);
        assert_eq!(c["status"], "FAIL_PERMANENT");
        assert_eq!(c["m.relates_to"]["event_id"], "$e");
        assert_eq!(c["m.relates_to"]["rel_type"], "m.reference");
        assert_eq!(c["reason"], "m_foreign_network_error");
        assert!(c.get("delivered_to_users").is_none());
        let d = status_content("$e", Status::Success, None, None, &["@g:x"]);
        assert_eq!(d["delivered_to_users"][0], "@g:x");
    }
}
