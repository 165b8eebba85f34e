//! MMS PDUs (OMA MMS Encapsulation 1.0–1.3): the header fields every message type uses,
//! and the body that follows Content-Type.

use super::error::DecodeError;
use super::multipart::{self, Part};
use super::wsp::{ContentType, Reader, Result};

/// X-Mms-Message-Type, as the octet on the wire (0x80 = m-send-req).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageType(pub u8);

impl MessageType {
    pub const SEND_REQ: MessageType = MessageType(0x80);
    pub const SEND_CONF: MessageType = MessageType(0x81);
    pub const NOTIFICATION_IND: MessageType = MessageType(0x82);
    pub const NOTIFYRESP_IND: MessageType = MessageType(0x83);
    pub const RETRIEVE_CONF: MessageType = MessageType(0x84);
    pub const ACKNOWLEDGE_IND: MessageType = MessageType(0x85);
    pub const DELIVERY_IND: MessageType = MessageType(0x86);
    pub const READ_REC_IND: MessageType = MessageType(0x87);
    pub const READ_ORIG_IND: MessageType = MessageType(0x88);

    /// The OMA name ("m-retrieve-conf").
    pub fn name(self) -> String {
        const NAMES: &[&str] = &[
            "m-send-req",
            "m-send-conf",
            "m-notification-ind",
            "m-notifyresp-ind",
            "m-retrieve-conf",
            "m-acknowledge-ind",
            "m-delivery-ind",
            "m-read-rec-ind",
            "m-read-orig-ind",
            "m-forward-req",
            "m-forward-conf",
            "m-mbox-store-req",
            "m-mbox-store-conf",
            "m-mbox-view-req",
            "m-mbox-view-conf",
            "m-mbox-upload-req",
            "m-mbox-upload-conf",
            "m-mbox-delete-req",
            "m-mbox-delete-conf",
            "m-mbox-descr",
            "m-delete-req",
            "m-delete-conf",
            "m-cancel-req",
            "m-cancel-conf",
        ];
        match self.0.checked_sub(0x80).and_then(|i| NAMES.get(i as usize)) {
            Some(n) => n.to_string(),
            None => format!("unknown-0x{:02x}", self.0),
        }
    }
}

/// Expiry, Delivery-Time: a date (unix seconds) or seconds from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    Absolute(u64),
    Relative(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    Address(String),
    /// Insert-address-token: the MMSC fills in the sender.
    Insert,
}

/// Any MMS PDU. Absent headers are None or empty; `parts` holds the body (one part for a
/// body that is not multipart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub message_type: MessageType,
    pub transaction_id: Option<String>,
    /// (major, minor), e.g. (1, 2).
    pub version: Option<(u8, u8)>,
    pub message_id: Option<String>,
    pub date: Option<u64>,
    pub from: Option<From>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: Option<String>,
    pub message_class: Option<String>,
    pub priority: Option<String>,
    pub sender_visibility: Option<String>,
    pub delivery_report: Option<bool>,
    pub read_report: Option<bool>,
    pub report_allowed: Option<bool>,
    pub content_location: Option<String>,
    pub message_size: Option<u64>,
    pub expiry: Option<TimeValue>,
    pub delivery_time: Option<TimeValue>,
    /// X-Mms-Status octet (0x81 = Retrieved); see `status_name`.
    pub status: Option<u8>,
    /// X-Mms-Response-Status octet (0x80 = Ok); see `response_status_name`.
    pub response_status: Option<u8>,
    pub response_text: Option<String>,
    pub retrieve_status: Option<u8>,
    pub retrieve_text: Option<String>,
    pub read_status: Option<u8>,
    pub content_type: Option<ContentType>,
    pub parts: Vec<Part>,
    /// Things that were repaired rather than refused (a mislabelled charset, …).
    pub warnings: Vec<String>,
}

impl Message {
    pub fn new(message_type: MessageType) -> Message {
        Message {
            message_type,
            transaction_id: None,
            version: None,
            message_id: None,
            date: None,
            from: None,
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            subject: None,
            message_class: None,
            priority: None,
            sender_visibility: None,
            delivery_report: None,
            read_report: None,
            report_allowed: None,
            content_location: None,
            message_size: None,
            expiry: None,
            delivery_time: None,
            status: None,
            response_status: None,
            response_text: None,
            retrieve_status: None,
            retrieve_text: None,
            read_status: None,
            content_type: None,
            parts: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

pub const BCC: u8 = 0x01;
pub const CC: u8 = 0x02;
pub const CONTENT_LOCATION: u8 = 0x03;
pub const CONTENT_TYPE: u8 = 0x04;
pub const DATE: u8 = 0x05;
pub const DELIVERY_REPORT: u8 = 0x06;
pub const DELIVERY_TIME: u8 = 0x07;
pub const EXPIRY: u8 = 0x08;
pub const FROM: u8 = 0x09;
pub const MESSAGE_CLASS: u8 = 0x0A;
pub const MESSAGE_ID: u8 = 0x0B;
pub const MESSAGE_TYPE: u8 = 0x0C;
pub const MMS_VERSION: u8 = 0x0D;
pub const MESSAGE_SIZE: u8 = 0x0E;
pub const PRIORITY: u8 = 0x0F;
pub const READ_REPORT: u8 = 0x10;
pub const REPORT_ALLOWED: u8 = 0x11;
pub const RESPONSE_STATUS: u8 = 0x12;
pub const RESPONSE_TEXT: u8 = 0x13;
pub const SENDER_VISIBILITY: u8 = 0x14;
pub const STATUS: u8 = 0x15;
pub const SUBJECT: u8 = 0x16;
pub const TO: u8 = 0x17;
pub const TRANSACTION_ID: u8 = 0x18;
pub const RETRIEVE_STATUS: u8 = 0x19;
pub const RETRIEVE_TEXT: u8 = 0x1A;
pub const READ_STATUS: u8 = 0x1B;

pub const ADDRESS_PRESENT: u8 = 0x80;
pub const INSERT_ADDRESS: u8 = 0x81;
pub const YES: u8 = 0x80;
pub const NO: u8 = 0x81;
pub const ABSOLUTE: u8 = 0x80;
pub const RELATIVE: u8 = 0x81;

fn header_name(code: u8) -> &'static str {
    match code {
        BCC => "Bcc",
        CC => "Cc",
        CONTENT_LOCATION => "X-Mms-Content-Location",
        CONTENT_TYPE => "Content-Type",
        DATE => "Date",
        DELIVERY_REPORT => "X-Mms-Delivery-Report",
        DELIVERY_TIME => "X-Mms-Delivery-Time",
        EXPIRY => "X-Mms-Expiry",
        FROM => "From",
        MESSAGE_CLASS => "X-Mms-Message-Class",
        MESSAGE_ID => "Message-ID",
        MESSAGE_TYPE => "X-Mms-Message-Type",
        MMS_VERSION => "X-Mms-MMS-Version",
        MESSAGE_SIZE => "X-Mms-Message-Size",
        PRIORITY => "X-Mms-Priority",
        READ_REPORT => "X-Mms-Read-Report",
        REPORT_ALLOWED => "X-Mms-Report-Allowed",
        RESPONSE_STATUS => "X-Mms-Response-Status",
        RESPONSE_TEXT => "X-Mms-Response-Text",
        SENDER_VISIBILITY => "X-Mms-Sender-Visibility",
        STATUS => "X-Mms-Status",
        SUBJECT => "Subject",
        TO => "To",
        TRANSACTION_ID => "X-Mms-Transaction-Id",
        RETRIEVE_STATUS => "X-Mms-Retrieve-Status",
        RETRIEVE_TEXT => "X-Mms-Retrieve-Text",
        READ_STATUS => "X-Mms-Read-Status",
        _ => "MMS header",
    }
}

pub fn message_class_name(v: u8) -> Option<&'static str> {
    ["Personal", "Advertisement", "Informational", "Auto"].get(v.checked_sub(0x80)? as usize).copied()
}

pub fn priority_name(v: u8) -> Option<&'static str> {
    ["Low", "Normal", "High"].get(v.checked_sub(0x80)? as usize).copied()
}

pub fn status_name(v: u8) -> Option<&'static str> {
    ["Expired", "Retrieved", "Rejected", "Deferred", "Unrecognised", "Indeterminate", "Forwarded", "Unreachable"]
        .get(v.checked_sub(0x80)? as usize)
        .copied()
}

/// X-Mms-Retrieve-Status names (OMA MMS 1.1 on).
pub fn retrieve_status_name(v: u8) -> Option<&'static str> {
    Some(match v {
        0x80 => "Ok",
        0xC0 => "Error-transient-failure",
        0xC1 => "Error-transient-message-not-found",
        0xC2 => "Error-transient-network-problem",
        0xE0 => "Error-permanent-failure",
        0xE1 => "Error-permanent-service-denied",
        0xE2 => "Error-permanent-message-not-found",
        0xE3 => "Error-permanent-content-unsupported",
        _ => return None,
    })
}

pub fn response_status_name(v: u8) -> Option<&'static str> {
    Some(match v {
        0x80 => "Ok",
        0x81 => "Error-unspecified",
        0x82 => "Error-service-denied",
        0x83 => "Error-message-format-corrupt",
        0x84 => "Error-sending-address-unresolved",
        0x85 => "Error-message-not-found",
        0x86 => "Error-network-problem",
        0x87 => "Error-content-not-accepted",
        0x88 => "Error-unsupported-message",
        0xC0 => "Error-transient-failure",
        0xC1 => "Error-transient-sending-address-unresolved",
        0xC2 => "Error-transient-message-not-found",
        0xC3 => "Error-transient-network-problem",
        0xC4 => "Error-transient-partial-success",
        0xE0 => "Error-permanent-failure",
        0xE1 => "Error-permanent-service-denied",
        0xE2 => "Error-permanent-message-format-corrupt",
        0xE3 => "Error-permanent-sending-address-unresolved",
        0xE4 => "Error-permanent-message-not-found",
        0xE5 => "Error-permanent-content-not-accepted",
        0xE6 => "Error-permanent-reply-charging-limitations-not-met",
        0xE7 => "Error-permanent-reply-charging-request-not-accepted",
        0xE8 => "Error-permanent-reply-charging-forwarding-denied",
        0xE9 => "Error-permanent-reply-charging-not-supported",
        0xEA => "Error-permanent-address-hiding-not-supported",
        0xEB => "Error-permanent-lack-of-prepaid",
        _ => return None,
    })
}

/// Response statuses 0xC0–0xDF are worth retrying; 0x80 is success; the rest are final.
pub fn response_status_is_transient(v: u8) -> bool {
    (0xC0..0xE0).contains(&v)
}

/// Decodes an MMS PDU. The first header must be X-Mms-Message-Type.
pub fn decode(bytes: &[u8]) -> Result<Message> {
    decode_limited(bytes, usize::MAX)
}

/// Decodes an MMS PDU of at most `max_parts` body parts (every level of nesting counted):
/// more is an error that says so (`DecodeError::parts_over_limit`).
pub fn decode_limited(bytes: &[u8], max_parts: usize) -> Result<Message> {
    let mut r = Reader::new(bytes);
    if r.peek() != Some(0x80 | MESSAGE_TYPE) {
        return Err(DecodeError::new(
            "MMS PDU",
            match r.peek() {
                None => "is empty".to_string(),
                Some(b) => format!("starts with 0x{b:02x}, not X-Mms-Message-Type (0x8c)"),
            },
            0,
        ));
    }
    r.u8("")?;
    let mut m = Message::new(MessageType(r.u8("X-Mms-Message-Type")?));
    while !r.is_empty() {
        if r.peek().is_some_and(|b| b & 0x80 == 0) {
            // Application-header (token name, text value): nothing we act on.
            r.text("MMS application header name")?;
            r.text("MMS application header value")?;
            continue;
        }
        let code = r.short_integer("MMS header")?;
        let what = header_name(code);
        match code {
            TO => m.to.push(r.encoded_string(what)?.text),
            CC => m.cc.push(r.encoded_string(what)?.text),
            BCC => m.bcc.push(r.encoded_string(what)?.text),
            CONTENT_LOCATION => m.content_location = Some(content_location(&mut r)?),
            CONTENT_TYPE => {
                let ct = r.content_type(what)?;
                body(&mut m, ct, &mut r, max_parts)?;
                break;
            }
            DATE => m.date = Some(r.long_integer(what)?),
            DELIVERY_REPORT => m.delivery_report = yes_no(&mut r, what)?,
            DELIVERY_TIME => m.delivery_time = Some(time_value(&mut r, what)?),
            EXPIRY => m.expiry = Some(time_value(&mut r, what)?),
            FROM => m.from = Some(from(&mut r, &mut m.warnings)?),
            MESSAGE_CLASS => {
                m.message_class = Some(match r.peek() {
                    Some(b) if b & 0x80 != 0 => {
                        let v = r.u8(what)?;
                        message_class_name(v).map(str::to_string).unwrap_or_else(|| format!("0x{v:02x}"))
                    }
                    _ => r.text(what)?,
                })
            }
            MESSAGE_ID => m.message_id = Some(r.text(what)?),
            MESSAGE_TYPE => {
                r.u8(what)?;
                m.warnings.push("a second X-Mms-Message-Type was ignored".into());
            }
            MMS_VERSION => {
                let v = r.short_integer(what)?;
                m.version = Some(((v >> 4) & 0x07, v & 0x0F));
            }
            MESSAGE_SIZE => m.message_size = Some(r.integer(what)?),
            PRIORITY => m.priority = Some(token(&mut r, what, priority_name)?),
            READ_REPORT => m.read_report = yes_no(&mut r, what)?,
            REPORT_ALLOWED => m.report_allowed = yes_no(&mut r, what)?,
            RESPONSE_STATUS => m.response_status = Some(r.u8(what)?),
            RESPONSE_TEXT => m.response_text = Some(r.encoded_string(what)?.text),
            SENDER_VISIBILITY => {
                m.sender_visibility =
                    Some(token(&mut r, what, |v| ["Hide", "Show"].get(v.checked_sub(0x80)? as usize).copied())?)
            }
            STATUS => m.status = Some(r.u8(what)?),
            SUBJECT => {
                let t = r.encoded_string(what)?;
                m.warnings.extend(t.warning.map(|w| format!("Subject: {w}")));
                m.subject = Some(t.text);
            }
            TRANSACTION_ID => m.transaction_id = Some(r.text(what)?),
            RETRIEVE_STATUS => m.retrieve_status = Some(r.u8(what)?),
            RETRIEVE_TEXT => m.retrieve_text = Some(r.encoded_string(what)?.text),
            READ_STATUS => m.read_status = Some(r.u8(what)?),
            // Headers we don't act on, known or not: skipped by the shape of their value.
            _ => {
                r.skip_value(&format!("MMS header 0x{code:02x}"))?;
            }
        }
    }
    Ok(m)
}

fn body(m: &mut Message, ct: ContentType, r: &mut Reader, max_parts: usize) -> Result<()> {
    if ct.is_multipart() {
        m.parts = multipart::decode(r, "body", max_parts)?;
    } else if !r.is_empty() {
        m.parts = vec![Part::new(ct.clone(), r.rest().to_vec())];
    }
    for (i, p) in m.parts.iter().enumerate() {
        if let Some(w) = p.text().and_then(|t| t.warning) {
            m.warnings.push(format!("part {}: {w}", i + 1));
        }
        if p.content_type.unknown_params {
            m.warnings.push(format!("part {}: a content type parameter with an unknown code was skipped", i + 1));
        }
    }
    m.content_type = Some(ct);
    Ok(())
}

fn yes_no(r: &mut Reader, what: &str) -> Result<Option<bool>> {
    Ok(match r.u8(what)? {
        YES => Some(true),
        NO => Some(false),
        _ => None,
    })
}

fn token(r: &mut Reader, what: &str, name: impl Fn(u8) -> Option<&'static str>) -> Result<String> {
    let v = r.u8(what)?;
    Ok(name(v).map(str::to_string).unwrap_or_else(|| format!("0x{v:02x}")))
}

fn time_value(r: &mut Reader, what: &str) -> Result<TimeValue> {
    let len = r.value_length(what)?;
    let mut v = r.sub(len, what)?;
    let at = v.offset();
    match v.u8(what)? {
        ABSOLUTE => Ok(TimeValue::Absolute(v.long_integer(what)?)),
        RELATIVE => Ok(TimeValue::Relative(v.integer(what)?)),
        b => Err(DecodeError::new(what, format!("expected absolute (0x80) or relative (0x81), found 0x{b:02x}"), at)),
    }
}

fn from(r: &mut Reader, warnings: &mut Vec<String>) -> Result<From> {
    let what = "From";
    let len = r.value_length(what)?;
    let mut v = r.sub(len, what)?;
    let at = v.offset();
    match v.u8(what)? {
        ADDRESS_PRESENT => {
            let t = v.encoded_string(what)?;
            warnings.extend(t.warning.map(|w| format!("From: {w}")));
            Ok(From::Address(t.text))
        }
        INSERT_ADDRESS => Ok(From::Insert),
        b => Err(DecodeError::new(what, format!("expected an address token (0x80/0x81), found 0x{b:02x}"), at)),
    }
}

/// Content-Location is a URI text, or (in m-mbox-delete-conf) value-length + index + URI.
fn content_location(r: &mut Reader) -> Result<String> {
    let what = "X-Mms-Content-Location";
    if r.peek().is_some_and(|b| (1..=31).contains(&b)) {
        let len = r.value_length(what)?;
        let mut v = r.sub(len, what)?;
        v.integer(what)?;
        return v.text(what);
    }
    r.text(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_from_a_push() {
        let pdu = b"\x8c\x82\x98T1\x00\x8d\x92\x89\x0e\x80+15551234567\x00\x8a\x80\x8e\x02\x74\x00\x88\x05\x81\x03\x03\xf4\x80\x83http://mmsc/x\x00";
        let m = decode(pdu).unwrap();
        assert_eq!(m.message_type.name(), "m-notification-ind");
        assert_eq!(m.transaction_id.as_deref(), Some("T1"));
        assert_eq!(m.version, Some((1, 2)));
        assert_eq!(m.from, Some(From::Address("+15551234567".into())));
        assert_eq!(m.message_class.as_deref(), Some("Personal"));
        assert_eq!(m.message_size, Some(29696));
        assert_eq!(m.expiry, Some(TimeValue::Relative(259200)));
        assert_eq!(m.content_location.as_deref(), Some("http://mmsc/x"));
    }

    #[test]
    fn errors_name_the_header_and_the_byte() {
        let e = decode(b"\x8c\x82\x98T1").unwrap_err();
        assert_eq!((e.what.as_str(), e.at), ("X-Mms-Transaction-Id", 3));
        assert!(e.problem.contains("NUL"));
        let e = decode(b"\x8c\x82\x88\x05\x85\x01\x01").unwrap_err();
        assert!(e.what.contains("Expiry"), "{e}");
        assert!(decode(b"").unwrap_err().problem.contains("empty"));
        assert!(decode(b"\x01\x02").unwrap_err().problem.contains("0x01"));
    }

    #[test]
    fn unknown_headers_are_skipped() {
        // 0x3F (1.3 Cancel-Status) short, 0x2E with a value-length, an application header.
        let m = decode(b"\x8c\x84\xbf\x80\xae\x02\x01\x02X-Foo\x00bar\x00\x96Hi\x00").unwrap();
        assert_eq!(m.subject.as_deref(), Some("Hi"));
    }

    #[test]
    fn a_part_count_larger_than_the_data_is_refused_before_allocating() {
        let e = decode(b"\x8c\x84\x84\xa3\x8f\xff\xff\xff\x7f").unwrap_err();
        assert!(e.problem.contains("entries declared"), "{e}");
    }
}
