//! The WAP push an MMSC sends to announce an MMS: an m-notification-ind in a WSP push.

use crate::mms::push::{self, MMS_CONTENT_TYPE};
use crate::mms::{self, ContentType, From, Message, MessageType, TimeValue};

/// The WSP bytes (the user data of the port-2948 SMS) announcing an MMS from `from` at `url`.
pub fn notification(from: &str, url: &str, transaction_id: &str) -> Result<Vec<u8>, String> {
    let mut m = Message::new(MessageType::NOTIFICATION_IND);
    m.transaction_id = Some(transaction_id.to_string());
    m.version = Some((1, 2));
    m.from = Some(From::Address(format!("{from}/TYPE=PLMN")));
    m.message_class = Some("Personal".into());
    m.message_size = Some(30_000);
    m.expiry = Some(TimeValue::Relative(259_200));
    m.content_location = Some(url.to_string());
    let body = mms::encode(&m).map_err(|e| e.to_string())?;
    push::encode(1, &ContentType::new(MMS_CONTENT_TYPE), 4, &body).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_back() {
        let bytes = super::notification("+15551234567", "http://mmsc.example/x", "T1").unwrap();
        let p = crate::mms::push::decode(&bytes).unwrap();
        assert!(p.is_mms());
        let m = crate::mms::decode(&p.body).unwrap();
        assert_eq!(m.message_type.name(), "m-notification-ind");
        assert_eq!(m.content_location.as_deref(), Some("http://mmsc.example/x"));
    }
}
