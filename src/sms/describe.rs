//! A PDU as one JSON object, for `sms-bridge decode sms` and for logs.

use serde_json::{Value, json};

use super::dcs::Alphabet;
use super::lenient::Lenient;
use super::time::Validity;
use super::tpdu::{Pdu, Tpdu, to_hex};

pub fn describe(pdu: &Pdu) -> Value {
    let t = &pdu.tpdu;
    let mut v = json!({
        "tpdu_type": match t {
            Tpdu::Deliver(_) => "SMS-DELIVER",
            Tpdu::Submit(_) => "SMS-SUBMIT",
            Tpdu::StatusReport(_) => "SMS-STATUS-REPORT",
        },
        "smsc": pdu.smsc.as_ref().map(|a| a.value.clone()),
        "timestamp": null, "discharge_time": null, "status": null, "message_ref": null,
        "validity": null, "class": null, "text": null, "data_hex": null, "udh": [], "concat": null, "ports": null,
    });
    match t {
        Tpdu::Deliver(d) => {
            v["originator"] = d.originator.value.clone().into();
            v["timestamp"] = d.timestamp.rfc3339().into();
        }
        Tpdu::Submit(s) => {
            v["destination"] = s.destination.value.clone().into();
            v["message_ref"] = s.message_ref.into();
            v["validity"] = match s.validity {
                None => Value::Null,
                Some(Validity::Relative(vp)) => json!({ "relative_minutes": Validity::minutes(vp) }),
                Some(Validity::Absolute(ts)) => json!({ "absolute": ts.rfc3339() }),
                Some(Validity::Enhanced(e)) => json!({ "enhanced_hex": to_hex(&e) }),
            };
        }
        Tpdu::StatusReport(r) => {
            v["recipient"] = r.recipient.value.clone().into();
            v["timestamp"] = r.timestamp.rfc3339().into();
            v["discharge_time"] = r.discharge_time.rfc3339().into();
            v["status"] = r.status.into();
            v["message_ref"] = r.message_ref.into();
        }
    }
    if let Some(dcs) = t.dcs() {
        v["dcs"] = serde_json::to_value(dcs).unwrap_or_default();
        v["encoding"] = serde_json::to_value(dcs.alphabet).unwrap_or_default();
        v["class"] = dcs.class.into();
    }
    if let Some(ud) = t.user_data() {
        let dcs = t.dcs();
        if dcs.is_some_and(|d| d.alphabet == Alphabet::EightBit || d.compressed) {
            v["data_hex"] = to_hex(&ud.payload).into();
        } else {
            v["text"] = ud.text.clone().into();
        }
        if let Some(udh) = &ud.udh {
            v["udh"] = udh.ies.iter().map(|ie| json!({ "iei": ie.iei, "data_hex": to_hex(&ie.data) })).collect();
            v["concat"] = udh.concat().map(|c| json!({ "ref": c.reference, "total": c.total, "seq": c.seq })).into();
            v["ports"] = udh.ports().map(|p| json!({ "src": p.src, "dst": p.dst })).into();
        }
    }
    v
}

/// [`describe`], plus `warnings` and `truncated` when there is something to say.
pub fn describe_lenient(l: &Lenient) -> Value {
    let mut v = describe(&l.pdu);
    if !l.warnings.is_empty() {
        v["warnings"] = l.warnings.clone().into();
    }
    if l.truncated {
        v["truncated"] = true.into();
    }
    v
}
