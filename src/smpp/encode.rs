//! `Pdu` → frame. Refuses what a peer could not decode: C-octet-strings over their SMPP
//! maximum or containing NUL, a short_message over 255 octets, a TLV over 65535 octets.

use super::error::PduError;
use super::pdu::*;
use super::tlv::{self, Tlv};

pub fn encode(pdu: &Pdu) -> Result<Vec<u8>, PduError> {
    let mut out = Vec::new();
    encode_into(pdu, &mut out)?;
    Ok(out)
}

/// Appends one frame to `out`; on error `out` is left as it was.
pub fn encode_into(pdu: &Pdu, out: &mut Vec<u8>) -> Result<(), PduError> {
    let start = out.len();
    let result = write(pdu, out, start);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write(pdu: &Pdu, out: &mut Vec<u8>, start: usize) -> Result<(), PduError> {
    let command_id = pdu.body.command_id();
    out.extend_from_slice(&[0; 4]); // command_length, patched below
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&pdu.status.to_be_bytes());
    out.extend_from_slice(&pdu.sequence.to_be_bytes());
    let mut w = Writer { out, start, pdu: pdu.body.name() };
    // A body-less error response is what SMPP 3.4 §4.4.2 asks for; an empty body
    // decodes back to the default, so the round trip holds.
    let bare = pdu.status != 0;
    match &pdu.body {
        Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => w.bind(b)?,
        Body::BindTransmitterResp(b) | Body::BindReceiverResp(b) | Body::BindTransceiverResp(b) => {
            if !(bare && *b == BindResp::default()) {
                w.cstr("system_id", SYSTEM_ID_MAX, &b.system_id)?;
                w.tlvs(&b.tlvs)?;
            }
        }
        Body::Outbind(o) => {
            w.cstr("system_id", SYSTEM_ID_MAX, &o.system_id)?;
            w.cstr("password", PASSWORD_MAX, &o.password)?;
        }
        Body::Unbind | Body::UnbindResp | Body::EnquireLink | Body::EnquireLinkResp | Body::GenericNack => {}
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => w.sm(sm)?,
        Body::DataSm(d) => w.data_sm(d)?,
        Body::SubmitSmResp(r) | Body::DeliverSmResp(r) | Body::DataSmResp(r) => {
            if !(bare && *r == SmResp::default()) {
                w.cstr("message_id", MESSAGE_ID_MAX, &r.message_id)?;
                w.tlvs(&r.tlvs)?;
            }
        }
        Body::Other { command_id, body } => {
            // Otherwise it would come back as a typed body, or fail to decode at all.
            if TYPED_COMMANDS.contains(command_id) {
                return Err(w.fail(format!("Other with command_id 0x{command_id:08X}, which has a typed body")));
            }
            w.out.extend_from_slice(body);
        }
    }
    let len = w.out.len() - start;
    let len = u32::try_from(len).map_err(|_| w.fail(format!("{len} octets do not fit command_length")))?;
    w.out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    pdu: &'static str,
}

impl Writer<'_> {
    /// Errors point at where the offending field would have started in the frame.
    fn fail(&self, what: String) -> PduError {
        PduError::new(format!("{}: {what}", self.pdu), self.out.len() - self.start)
    }

    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    fn cstr(&mut self, field: &str, max: usize, v: &str) -> Result<(), PduError> {
        if v.as_bytes().contains(&0) {
            return Err(self.fail(format!("{field} contains a NUL")));
        }
        if v.len() >= max {
            return Err(self.fail(format!("{field} is {} octets, over the SMPP maximum of {}", v.len(), max - 1)));
        }
        self.out.extend_from_slice(v.as_bytes());
        self.out.push(0);
        Ok(())
    }

    fn tlvs(&mut self, tlvs: &[Tlv]) -> Result<(), PduError> {
        for t in tlvs {
            let Ok(len) = u16::try_from(t.value.len()) else {
                return Err(self.fail(format!("{} is {} octets, over 65535", tlv::label(t.tag), t.value.len())));
            };
            self.out.extend_from_slice(&t.tag.to_be_bytes());
            self.out.extend_from_slice(&len.to_be_bytes());
            self.out.extend_from_slice(&t.value);
        }
        Ok(())
    }

    fn bind(&mut self, b: &Bind) -> Result<(), PduError> {
        self.cstr("system_id", SYSTEM_ID_MAX, &b.system_id)?;
        self.cstr("password", PASSWORD_MAX, &b.password)?;
        self.cstr("system_type", SYSTEM_TYPE_MAX, &b.system_type)?;
        self.u8(b.interface_version);
        self.u8(b.addr_ton);
        self.u8(b.addr_npi);
        self.cstr("address_range", ADDRESS_RANGE_MAX, &b.address_range)
    }

    fn address(&mut self, field: &str, a: &Address) -> Result<(), PduError> {
        self.u8(a.ton);
        self.u8(a.npi);
        self.cstr(field, ADDR_MAX, &a.addr)
    }

    fn sm(&mut self, sm: &Sm) -> Result<(), PduError> {
        self.cstr("service_type", SERVICE_TYPE_MAX, &sm.service_type)?;
        self.address("source_addr", &sm.source)?;
        self.address("destination_addr", &sm.dest)?;
        self.u8(sm.esm_class);
        self.u8(sm.protocol_id);
        self.u8(sm.priority_flag);
        self.cstr("schedule_delivery_time", TIME_MAX, &sm.schedule_delivery_time)?;
        self.cstr("validity_period", TIME_MAX, &sm.validity_period)?;
        self.u8(sm.registered_delivery);
        self.u8(sm.replace_if_present);
        self.u8(sm.data_coding);
        self.u8(sm.sm_default_msg_id);
        let Ok(sm_length) = u8::try_from(sm.short_message.len()) else {
            let what = format!("short_message is {} octets, over 255 (use message_payload)", sm.short_message.len());
            return Err(self.fail(what));
        };
        self.u8(sm_length);
        self.out.extend_from_slice(&sm.short_message);
        self.tlvs(&sm.tlvs)
    }

    fn data_sm(&mut self, d: &DataSm) -> Result<(), PduError> {
        self.cstr("service_type", SERVICE_TYPE_MAX, &d.service_type)?;
        self.address("source_addr", &d.source)?;
        self.address("destination_addr", &d.dest)?;
        self.u8(d.esm_class);
        self.u8(d.registered_delivery);
        self.u8(d.data_coding);
        self.tlvs(&d.tlvs)
    }
}
