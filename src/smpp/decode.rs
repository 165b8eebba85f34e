//! Frame → `Pdu`. Every length is checked against the bytes actually present before it is
//! used, so a hostile peer can make us return an error but not panic or over-allocate.
//!
//! Leniency, because real SMSCs are sloppy:
//! - C-octet-strings that are not UTF-8 are converted lossily (U+FFFD), not refused.
//! - A response with an empty body decodes to the default body, whatever its status.
//! - A failed response (status ≠ 0) whose body doesn't parse as message_id/system_id + TLVs
//!   is tried as bare TLVs (what smpp34 sends), and otherwise dropped: the status is what
//!   matters there, and refusing it would make the session generic_nack a response.
//! - unbind, enquire_link, generic_nack and their responses have no body: trailing octets
//!   are ignored rather than refused, since nothing in them could change what we do.
//!
//! Everything else is strict: a missing NUL, an sm_length or TLV length past the end, or
//! octets after the last mandatory field of a PDU that takes no TLVs is an error.

use super::error::PduError;
use super::pdu::*;
use super::tlv::{self, Tlv};

/// Reads command_length from the first 4 octets and checks it against 16..=max before
/// anyone allocates a buffer for the rest.
pub fn frame_len(first4: [u8; 4], max: u32) -> Result<usize, PduError> {
    let len = u32::from_be_bytes(first4);
    if (len as usize) < HEADER_LEN {
        return Err(PduError::new(format!("command_length {len} is shorter than the 16-octet header"), 0));
    }
    if len > max {
        return Err(PduError::new(format!("command_length {len} is over the limit of {max}"), 0));
    }
    Ok(len as usize)
}

/// Decodes a whole frame, header included. The frame must be exactly command_length long.
pub fn decode(frame: &[u8]) -> Result<Pdu, PduError> {
    let word = |i: usize| frame.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (Some(length), Some(command_id), Some(status), Some(sequence)) = (word(0), word(4), word(8), word(12)) else {
        let mut err =
            PduError::new(format!("frame is {} octets, shorter than the 16-octet header", frame.len()), frame.len());
        err.command_id = word(4);
        return Err(err);
    };
    let name = command_name(command_id);
    let tag = |mut err: PduError| {
        err.command_id = Some(command_id);
        err.sequence = Some(sequence);
        err
    };
    if length as usize != frame.len() {
        let what = format!("{name}: command_length {length} but the frame is {} octets", frame.len());
        return Err(tag(PduError::new(what, 0)));
    }
    let mut r = Reader { buf: frame, pos: HEADER_LEN, pdu: name };
    let body = body(command_id, status, &mut r).map_err(tag)?;
    Ok(Pdu { sequence, status, body })
}

fn body(command_id: u32, status: u32, r: &mut Reader) -> Result<Body, PduError> {
    Ok(match command_id {
        BIND_TRANSMITTER => Body::BindTransmitter(bind(r)?),
        BIND_RECEIVER => Body::BindReceiver(bind(r)?),
        BIND_TRANSCEIVER => Body::BindTransceiver(bind(r)?),
        BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(bind_resp(r, status)?),
        BIND_RECEIVER_RESP => Body::BindReceiverResp(bind_resp(r, status)?),
        BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(bind_resp(r, status)?),
        OUTBIND => Body::Outbind(outbind(r)?),
        UNBIND => Body::Unbind,
        UNBIND_RESP => Body::UnbindResp,
        ENQUIRE_LINK => Body::EnquireLink,
        ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
        GENERIC_NACK => Body::GenericNack,
        SUBMIT_SM => Body::SubmitSm(sm(r)?),
        DELIVER_SM => Body::DeliverSm(sm(r)?),
        DATA_SM => Body::DataSm(data_sm(r)?),
        SUBMIT_SM_RESP => Body::SubmitSmResp(sm_resp(r, status)?),
        DELIVER_SM_RESP => Body::DeliverSmResp(sm_resp(r, status)?),
        DATA_SM_RESP => Body::DataSmResp(sm_resp(r, status)?),
        _ => Body::Other { command_id, body: r.rest().to_vec() },
    })
}

fn bind(r: &mut Reader) -> Result<Bind, PduError> {
    let bind = Bind {
        system_id: r.cstr("system_id", SYSTEM_ID_MAX)?,
        password: r.cstr("password", PASSWORD_MAX)?,
        system_type: r.cstr("system_type", SYSTEM_TYPE_MAX)?,
        interface_version: r.u8("interface_version")?,
        addr_ton: r.u8("addr_ton")?,
        addr_npi: r.u8("addr_npi")?,
        address_range: r.cstr("address_range", ADDRESS_RANGE_MAX)?,
    };
    r.end("address_range")?;
    Ok(bind)
}

fn bind_resp(r: &mut Reader, status: u32) -> Result<BindResp, PduError> {
    let (system_id, tlvs) = resp_body(r, status, "system_id", SYSTEM_ID_MAX)?;
    Ok(BindResp { system_id, tlvs })
}

fn sm_resp(r: &mut Reader, status: u32) -> Result<SmResp, PduError> {
    let (message_id, tlvs) = resp_body(r, status, "message_id", MESSAGE_ID_MAX)?;
    Ok(SmResp { message_id, tlvs })
}

/// One C-octet-string then TLVs: the layout of every response body we type.
fn resp_body(r: &mut Reader, status: u32, field: &str, max: usize) -> Result<(String, Vec<Tlv>), PduError> {
    if r.rest().is_empty() {
        return Ok(Default::default());
    }
    let start = r.pos;
    let full = r.cstr(field, max).and_then(|id| Ok((id, r.tlvs()?)));
    if status == 0 || full.is_ok() {
        return full;
    }
    r.pos = start;
    Ok(r.tlvs().map(|tlvs| (String::new(), tlvs)).unwrap_or_default())
}

fn outbind(r: &mut Reader) -> Result<Outbind, PduError> {
    let outbind =
        Outbind { system_id: r.cstr("system_id", SYSTEM_ID_MAX)?, password: r.cstr("password", PASSWORD_MAX)? };
    r.end("password")?;
    Ok(outbind)
}

const SOURCE: [&str; 3] = ["source_addr_ton", "source_addr_npi", "source_addr"];
const DEST: [&str; 3] = ["dest_addr_ton", "dest_addr_npi", "destination_addr"];

fn address(r: &mut Reader, [ton, npi, addr]: [&str; 3]) -> Result<Address, PduError> {
    Ok(Address { ton: r.u8(ton)?, npi: r.u8(npi)?, addr: r.cstr(addr, ADDR_MAX)? })
}

fn sm(r: &mut Reader) -> Result<Sm, PduError> {
    let service_type = r.cstr("service_type", SERVICE_TYPE_MAX)?;
    let source = address(r, SOURCE)?;
    let dest = address(r, DEST)?;
    let esm_class = r.u8("esm_class")?;
    let protocol_id = r.u8("protocol_id")?;
    let priority_flag = r.u8("priority_flag")?;
    let schedule_delivery_time = r.cstr("schedule_delivery_time", TIME_MAX)?;
    let validity_period = r.cstr("validity_period", TIME_MAX)?;
    let registered_delivery = r.u8("registered_delivery")?;
    let replace_if_present = r.u8("replace_if_present_flag")?;
    let data_coding = r.u8("data_coding")?;
    let sm_default_msg_id = r.u8("sm_default_msg_id")?;
    let sm_length = r.u8("sm_length")?;
    let short_message = r.short_message(sm_length)?.to_vec();
    Ok(Sm {
        service_type,
        source,
        dest,
        esm_class,
        protocol_id,
        priority_flag,
        schedule_delivery_time,
        validity_period,
        registered_delivery,
        replace_if_present,
        data_coding,
        sm_default_msg_id,
        short_message,
        tlvs: r.tlvs()?,
    })
}

fn data_sm(r: &mut Reader) -> Result<DataSm, PduError> {
    Ok(DataSm {
        service_type: r.cstr("service_type", SERVICE_TYPE_MAX)?,
        source: address(r, SOURCE)?,
        dest: address(r, DEST)?,
        esm_class: r.u8("esm_class")?,
        registered_delivery: r.u8("registered_delivery")?,
        data_coding: r.u8("data_coding")?,
        tlvs: r.tlvs()?,
    })
}

/// A cursor over one frame; `pos` is an offset into the whole frame so errors can say
/// exactly where they are.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    pdu: &'static str,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn fail(&self, at: usize, what: String) -> PduError {
        PduError::new(format!("{}: {what}", self.pdu), at)
    }

    fn u8(&mut self, field: &str) -> Result<u8, PduError> {
        let &v = self.rest().first().ok_or_else(|| self.fail(self.pos, format!("body ends before {field}")))?;
        self.pos += 1;
        Ok(v)
    }

    /// A NUL-terminated string whose NUL must come within `max` octets (max counts it).
    fn cstr(&mut self, field: &str, max: usize) -> Result<String, PduError> {
        let rest = self.rest();
        let window = &rest[..rest.len().min(max)];
        let Some(n) = window.iter().position(|&b| b == 0) else {
            let what = if rest.is_empty() {
                format!("body ends before {field}")
            } else if rest.len() < max {
                format!("{field} has no NUL before the end of the body")
            } else {
                format!("{field} has no NUL within {max} octets")
            };
            return Err(self.fail(self.pos, what));
        };
        self.pos += n + 1;
        Ok(String::from_utf8_lossy(&window[..n]).into_owned())
    }

    fn short_message(&mut self, sm_length: u8) -> Result<&'a [u8], PduError> {
        let rest = self.rest();
        let Some(octets) = rest.get(..sm_length as usize) else {
            let what = format!("sm_length {sm_length} runs past the end of the body ({} octets left)", rest.len());
            return Err(self.fail(self.pos, what));
        };
        self.pos += octets.len();
        Ok(octets)
    }

    /// TLVs to the end of the frame, in wire order, unknown tags included.
    fn tlvs(&mut self) -> Result<Vec<Tlv>, PduError> {
        let mut tlvs = Vec::new();
        while !self.rest().is_empty() {
            let rest = self.rest();
            let &[t0, t1, l0, l1, ..] = rest else {
                let what = format!("{} octets after the last field are too short for a TLV header", rest.len());
                return Err(self.fail(self.pos, what));
            };
            let tag = u16::from_be_bytes([t0, t1]);
            let len = u16::from_be_bytes([l0, l1]) as usize;
            let Some(value) = rest[4..].get(..len) else {
                let what = format!("{} declares {len} octets but only {} remain", tlv::label(tag), rest.len() - 4);
                return Err(self.fail(self.pos, what));
            };
            tlvs.push(Tlv { tag, value: value.to_vec() });
            self.pos += 4 + len;
        }
        Ok(tlvs)
    }

    /// For PDUs that take no TLVs: anything left over is a framing mistake.
    fn end(&self, last: &str) -> Result<(), PduError> {
        match self.rest().len() {
            0 => Ok(()),
            n => Err(self.fail(self.pos, format!("{n} unexpected octets after {last}"))),
        }
    }
}
