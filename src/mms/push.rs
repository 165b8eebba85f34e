//! Connectionless WAP push (WAP-230 §8.2.4): transaction id, PDU type, headers length,
//! content type, headers, body. Over SMS it arrives on UDH port 2948.

use super::encode::Writer;
use super::error::{DecodeError, EncodeError};
use super::headers::{self, Headers};
use super::wsp::{ContentType, Reader, Result};

pub const PUSH: u8 = 0x06;
pub const CONFIRMED_PUSH: u8 = 0x07;
pub const MMS_CONTENT_TYPE: &str = "application/vnd.wap.mms-message";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WapPush {
    pub transaction_id: u8,
    pub pdu_type: u8,
    pub content_type: ContentType,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl WapPush {
    /// An MMS notification: the only push the bridge acts on.
    pub fn is_mms(&self) -> bool {
        self.content_type.essence() == MMS_CONTENT_TYPE
    }

    pub fn application_id(&self) -> Option<&str> {
        self.headers.application_id.as_deref()
    }
}

pub fn decode(bytes: &[u8]) -> Result<WapPush> {
    let mut r = Reader::new(bytes);
    let transaction_id = r.u8("WAP push transaction id")?;
    let at = r.offset();
    let pdu_type = r.u8("WAP push PDU type")?;
    if pdu_type != PUSH && pdu_type != CONFIRMED_PUSH {
        return Err(DecodeError::new("WAP push PDU type", format!("0x{pdu_type:02x} is not a push (0x06)"), at));
    }
    let len = r.uintvar("WAP push headers length")? as usize;
    let mut h = r.sub(len, "WAP push headers")?;
    let content_type = h.content_type("WAP push content type")?;
    let headers = headers::read(&mut h, "WAP push header")?;
    Ok(WapPush { transaction_id, pdu_type, content_type, headers, body: r.rest().to_vec() })
}

/// A push carrying `body` for `application_id` (0x04 = MMS), as an MMSC's gateway sends it.
pub fn encode(
    transaction_id: u8,
    content_type: &ContentType,
    application_id: u8,
    body: &[u8],
) -> std::result::Result<Vec<u8>, EncodeError> {
    let mut h = Writer::default();
    h.content_type(content_type)?;
    h.byte(0x80 | super::tables::X_WAP_APPLICATION_ID);
    h.integer(u64::from(application_id));
    let mut w = Writer::default();
    w.byte(transaction_id);
    w.byte(PUSH);
    w.uintvar(h.buf.len() as u32);
    w.bytes(&h.buf);
    w.bytes(body);
    Ok(w.buf)
}

/// The push that announces an MMS from `from` at `location`: an m-notification-ind (MMS
/// 1.2) in a WSP push, as an MMSC sends it. For simulators, and for links whose device
/// consumed the real push and shows only what it said (as the subject).
pub fn mms_notification(
    from: &str,
    location: &str,
    transaction_id: &str,
    size: Option<u64>,
    subject: Option<&str>,
) -> std::result::Result<Vec<u8>, EncodeError> {
    use super::{From, Message, MessageType};
    let mut m = Message::new(MessageType::NOTIFICATION_IND);
    m.transaction_id = Some(transaction_id.to_string());
    m.version = Some((1, 2));
    m.from = Some(From::Address(format!("{from}/TYPE=PLMN")));
    m.message_class = Some("Personal".into());
    m.message_size = size;
    m.content_location = Some(location.to_string());
    m.subject = subject.map(str::to_string);
    let body = super::encode(&m)?;
    encode(1, &ContentType::new(MMS_CONTENT_TYPE), 4, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_decodes_back() {
        let bytes = mms_notification("+15551234567", "http://mmsc.example/x", "T1", None, Some("Hi")).unwrap();
        let p = decode(&bytes).unwrap();
        assert!(p.is_mms());
        let m = crate::mms::decode(&p.body).unwrap();
        assert_eq!(m.message_type.name(), "m-notification-ind");
        assert_eq!(m.content_location.as_deref(), Some("http://mmsc.example/x"));
        assert_eq!((m.message_size, m.subject.as_deref()), (None, Some("Hi")));
    }

    #[test]
    fn mms_push_round_trip_and_refusals() {
        let bytes = encode(7, &ContentType::new(MMS_CONTENT_TYPE), 4, b"\x8c\x82").unwrap();
        assert_eq!(bytes, b"\x07\x06\x03\xbe\xaf\x84\x8c\x82");
        let p = decode(&bytes).unwrap();
        assert!(p.is_mms());
        assert_eq!(p.application_id(), Some("x-wap-application:mms.ua"));
        assert_eq!(p.body, b"\x8c\x82");
        assert!(decode(b"\x04\x05\x39\x5c").unwrap_err().problem.contains("not a push"));
        assert!(decode(b"\x01\x06\x39\x5c\x2d").unwrap_err().problem.contains("needs 57 bytes"));
    }
}
