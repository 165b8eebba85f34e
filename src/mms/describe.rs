//! The JSON view of decoded MMS and WAP push PDUs that `sms-bridge decode` prints.

use serde_json::{Map, Value, json};

use super::multipart::Part;
use super::pdu::{self, From, Message, TimeValue};
use super::push::WapPush;
use super::wsp::ContentType;

pub fn message(m: &Message) -> Value {
    let time = |t: Option<TimeValue>| match t {
        Some(TimeValue::Absolute(s)) => json!({ "absolute": s }),
        Some(TimeValue::Relative(s)) => json!({ "relative": s }),
        None => Value::Null,
    };
    let named = |v: Option<u8>, name: fn(u8) -> Option<&'static str>| {
        v.map(|v| name(v).map(str::to_string).unwrap_or_else(|| format!("0x{v:02x}")))
    };
    json!({
        "message_type": m.message_type.name(),
        "transaction_id": m.transaction_id,
        "mms_version": m.version.map(|(a, b)| format!("{a}.{b}")),
        "message_id": m.message_id,
        "date": m.date,
        "from": match &m.from { Some(From::Address(a)) => Some(a.as_str()), _ => None },
        "from_insert_address": m.from == Some(From::Insert),
        "to": m.to,
        "cc": m.cc,
        "bcc": m.bcc,
        "subject": m.subject,
        "message_class": m.message_class,
        "priority": m.priority,
        "sender_visibility": m.sender_visibility,
        "content_location": m.content_location,
        "message_size": m.message_size,
        "expiry": time(m.expiry),
        "delivery_time": time(m.delivery_time),
        "delivery_report": m.delivery_report,
        "read_report": m.read_report,
        "report_allowed": m.report_allowed,
        "status": named(m.status, pdu::status_name),
        "response_status": named(m.response_status, pdu::response_status_name),
        "response_text": m.response_text,
        "retrieve_status": named(m.retrieve_status, pdu::retrieve_status_name),
        "retrieve_text": m.retrieve_text,
        "content_type": m.content_type.as_ref().map(|c| c.media.as_str()),
        "content_type_params": m.content_type.as_ref().map(params).unwrap_or_else(|| json!({})),
        "parts": m.parts.iter().map(part).collect::<Vec<_>>(),
        "warnings": m.warnings,
    })
}

fn params(ct: &ContentType) -> Value {
    Value::Object(ct.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<_, _>>())
}

fn part(p: &Part) -> Value {
    let digest = ring::digest::digest(&ring::digest::SHA256, &p.data);
    let sha256: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let mut v = json!({
        "content_type": p.content_type.media,
        "params": params(&p.content_type),
        "content_id": p.headers.content_id,
        "content_location": p.headers.content_location,
        "size": p.data.len(),
        "sha256": sha256,
        "text": p.text().map(|t| t.text),
    });
    if !p.parts.is_empty() {
        v["parts"] = p.parts.iter().map(part).collect();
    }
    v
}

pub fn push(p: &WapPush) -> Value {
    let headers: Map<String, Value> =
        p.headers.list.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let mms = if p.is_mms() {
        match pdu::decode(&p.body) {
            Ok(m) => message(&m),
            Err(e) => json!({ "error": e.to_string() }),
        }
    } else {
        Value::Null
    };
    json!({
        "transaction_id": p.transaction_id,
        "pdu_type": p.pdu_type,
        "content_type": p.content_type.media,
        "content_type_params": params(&p.content_type),
        "application_id": p.application_id(),
        "headers": headers,
        "body_size": p.body.len(),
        "mms": mms,
    })
}
