//! MMS encoding: the PDUs the bridge sends (m-notifyresp-ind, m-acknowledge-ind,
//! m-send-req), and any other `Message` for tests and tools.

use super::error::EncodeError;
use super::multipart::Part;
use super::pdu::{self, From, Message, TimeValue};
use super::tables;
use super::wsp::ContentType;

type Result<T> = std::result::Result<T, EncodeError>;

#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn uintvar(&mut self, v: u32) {
        let mut groups = [0u8; 5];
        let mut n = 0;
        let mut v = v;
        loop {
            groups[n] = (v & 0x7F) as u8;
            n += 1;
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            self.buf.push(groups[i] | if i > 0 { 0x80 } else { 0 });
        }
    }

    pub fn long_integer(&mut self, v: u64) {
        let bytes = v.to_be_bytes();
        let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
        self.buf.push((8 - skip) as u8);
        self.buf.extend_from_slice(&bytes[skip..]);
    }

    pub fn integer(&mut self, v: u64) {
        if v < 0x80 { self.buf.push(0x80 | v as u8) } else { self.long_integer(v) }
    }

    pub fn value_length(&mut self, n: usize) {
        if n <= 30 {
            self.buf.push(n as u8);
        } else {
            self.buf.push(31);
            self.uintvar(n as u32);
        }
    }

    /// `inner` written behind its value-length.
    fn with_length(&mut self, inner: Writer) {
        self.value_length(inner.buf.len());
        self.bytes(&inner.buf);
    }

    pub fn text(&mut self, s: &str) -> Result<()> {
        if s.contains('\0') {
            return Err(EncodeError(format!("text with a NUL: {s:?}")));
        }
        if s.as_bytes().first().is_some_and(|&b| b >= 0x80) {
            self.buf.push(0x7F);
        }
        self.bytes(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    /// Quoted-string: the opening quote is the marker, and the closing one is implied.
    pub fn quoted(&mut self, s: &str) -> Result<()> {
        self.buf.push(0x22);
        let inner = s.strip_prefix('"').map(|r| r.strip_suffix('"').unwrap_or(r)).unwrap_or(s);
        self.text(inner)
    }

    /// ASCII as a plain Text-string, anything else as UTF-8 with its charset.
    pub fn encoded_string(&mut self, s: &str) -> Result<()> {
        if s.is_ascii() {
            return self.text(s);
        }
        let mut inner = Writer::default();
        inner.integer(tables::UTF8);
        inner.text(s)?;
        self.with_length(inner);
        Ok(())
    }

    fn media(&mut self, media: &str) -> Result<()> {
        match tables::content_type_code(media) {
            Some(code) => {
                self.integer(u64::from(code));
                Ok(())
            }
            None => self.text(media),
        }
    }

    pub fn content_type(&mut self, ct: &ContentType) -> Result<()> {
        if ct.params.is_empty() {
            return self.media(&ct.media);
        }
        let mut inner = Writer::default();
        inner.media(&ct.media)?;
        for (name, value) in &ct.params {
            match tables::param_code(name) {
                Some(0x01) => {
                    inner.byte(0x81);
                    inner.integer(tables::charset_mib(value).or(ct.charset).unwrap_or(tables::UTF8));
                }
                Some(0x09) => {
                    inner.byte(0x89);
                    inner.media(value)?;
                }
                Some(code) => {
                    inner.byte(0x80 | code);
                    inner.text(value)?;
                }
                None => {
                    inner.text(name)?;
                    inner.text(value)?;
                }
            }
        }
        self.with_length(inner);
        Ok(())
    }

    fn header(&mut self, code: u8) {
        self.buf.push(0x80 | code);
    }

    fn time(&mut self, t: TimeValue) {
        let mut inner = Writer::default();
        match t {
            TimeValue::Absolute(s) => {
                inner.byte(pdu::ABSOLUTE);
                inner.long_integer(s);
            }
            TimeValue::Relative(s) => {
                inner.byte(pdu::RELATIVE);
                inner.long_integer(s);
            }
        }
        self.with_length(inner);
    }

    fn yes_no(&mut self, code: u8, v: Option<bool>) {
        if let Some(v) = v {
            self.header(code);
            self.byte(if v { pdu::YES } else { pdu::NO });
        }
    }

    fn token(&mut self, code: u8, value: Option<&str>, names: impl Fn(u8) -> Option<&'static str>) -> Result<()> {
        let Some(value) = value else { return Ok(()) };
        // A name we know, or the "0x83" form describe() gives an unnamed token.
        let v = (0x80..=0xFF)
            .find(|&v| names(v) == Some(value))
            .or_else(|| value.strip_prefix("0x").and_then(|h| u8::from_str_radix(h, 16).ok()).filter(|v| *v >= 0x80));
        match v {
            Some(v) => {
                self.header(code);
                self.byte(v);
            }
            // Only Message-Class has a text form; other tokens we cannot write are left out.
            None if code == pdu::MESSAGE_CLASS => {
                self.header(code);
                self.text(value)?;
            }
            None => {}
        }
        Ok(())
    }
}

/// Encodes a message: Message-Type, Transaction-Id and MMS-Version first, as the standard
/// wants, then the other headers, then Content-Type and the body last.
pub fn encode(m: &Message) -> Result<Vec<u8>> {
    let mut w = Writer::default();
    w.header(pdu::MESSAGE_TYPE);
    w.byte(m.message_type.0);
    if let Some(t) = &m.transaction_id {
        w.header(pdu::TRANSACTION_ID);
        w.text(t)?;
    }
    if let Some((major, minor)) = m.version {
        w.header(pdu::MMS_VERSION);
        w.byte(0x80 | ((major & 0x07) << 4) | (minor & 0x0F));
    }
    if let Some(id) = &m.message_id {
        w.header(pdu::MESSAGE_ID);
        w.text(id)?;
    }
    if let Some(d) = m.date {
        w.header(pdu::DATE);
        w.long_integer(d);
    }
    match &m.from {
        Some(From::Insert) => {
            w.header(pdu::FROM);
            w.bytes(&[1, pdu::INSERT_ADDRESS]);
        }
        Some(From::Address(a)) => {
            let mut inner = Writer::default();
            inner.byte(pdu::ADDRESS_PRESENT);
            inner.encoded_string(a)?;
            w.header(pdu::FROM);
            w.with_length(inner);
        }
        None => {}
    }
    for (code, list) in [(pdu::TO, &m.to), (pdu::CC, &m.cc), (pdu::BCC, &m.bcc)] {
        for a in list {
            w.header(code);
            w.encoded_string(a)?;
        }
    }
    if let Some(s) = &m.subject {
        w.header(pdu::SUBJECT);
        w.encoded_string(s)?;
    }
    w.token(pdu::MESSAGE_CLASS, m.message_class.as_deref(), pdu::message_class_name)?;
    w.token(pdu::PRIORITY, m.priority.as_deref(), pdu::priority_name)?;
    w.token(pdu::SENDER_VISIBILITY, m.sender_visibility.as_deref(), |v| match v {
        0x80 => Some("Hide"),
        0x81 => Some("Show"),
        _ => None,
    })?;
    w.yes_no(pdu::DELIVERY_REPORT, m.delivery_report);
    w.yes_no(pdu::READ_REPORT, m.read_report);
    w.yes_no(pdu::REPORT_ALLOWED, m.report_allowed);
    if let Some(loc) = &m.content_location {
        w.header(pdu::CONTENT_LOCATION);
        w.text(loc)?;
    }
    if let Some(size) = m.message_size {
        w.header(pdu::MESSAGE_SIZE);
        w.long_integer(size);
    }
    if let Some(t) = m.expiry {
        w.header(pdu::EXPIRY);
        w.time(t);
    }
    if let Some(t) = m.delivery_time {
        w.header(pdu::DELIVERY_TIME);
        w.time(t);
    }
    for (code, v) in [
        (pdu::STATUS, m.status),
        (pdu::RESPONSE_STATUS, m.response_status),
        (pdu::RETRIEVE_STATUS, m.retrieve_status),
        (pdu::READ_STATUS, m.read_status),
    ] {
        if let Some(v) = v {
            w.header(code);
            w.byte(v);
        }
    }
    for (code, v) in [(pdu::RESPONSE_TEXT, &m.response_text), (pdu::RETRIEVE_TEXT, &m.retrieve_text)] {
        if let Some(v) = v {
            w.header(code);
            w.encoded_string(v)?;
        }
    }
    if let Some(ct) = &m.content_type {
        w.header(pdu::CONTENT_TYPE);
        w.content_type(ct)?;
        if ct.is_multipart() {
            multipart(&mut w, &m.parts)?;
        } else if let Some(p) = m.parts.first() {
            w.bytes(&p.data);
        }
    } else if !m.parts.is_empty() {
        return Err(EncodeError("a body without a Content-Type".into()));
    }
    Ok(w.buf)
}

fn multipart(w: &mut Writer, parts: &[Part]) -> Result<()> {
    w.uintvar(parts.len() as u32);
    for p in parts {
        let mut h = Writer::default();
        h.content_type(&p.content_type)?;
        if let Some(id) = &p.headers.content_id {
            h.byte(0x80 | tables::CONTENT_ID);
            h.quoted(id)?;
        }
        if let Some(loc) = &p.headers.content_location {
            h.byte(0x80 | tables::CONTENT_LOCATION);
            h.text(loc)?;
        }
        let data_len = u32::try_from(p.data.len()).map_err(|_| EncodeError("a part over 4 GiB".into()))?;
        w.uintvar(h.buf.len() as u32);
        w.uintvar(data_len);
        w.bytes(&h.buf);
        w.bytes(&p.data);
    }
    Ok(())
}

/// m-notifyresp-ind: tells the MMSC what became of a notification (0x81 = Retrieved,
/// 0x83 = Deferred, …).
pub fn notifyresp_ind(transaction_id: &str, version: (u8, u8), status: u8) -> Result<Vec<u8>> {
    let mut m = Message::new(pdu::MessageType::NOTIFYRESP_IND);
    m.transaction_id = Some(transaction_id.to_string());
    m.version = Some(version);
    m.status = Some(status);
    encode(&m)
}

/// m-acknowledge-ind: confirms a retrieved message (deferred-retrieval flows).
pub fn acknowledge_ind(transaction_id: &str, version: (u8, u8)) -> Result<Vec<u8>> {
    let mut m = Message::new(pdu::MessageType::ACKNOWLEDGE_IND);
    m.transaction_id = Some(transaction_id.to_string());
    m.version = Some(version);
    encode(&m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mms::wsp::Reader;

    #[test]
    fn integers_round_trip() {
        for v in [0u64, 1, 127, 128, 255, 256, 65535, 1 << 40, u64::MAX] {
            let mut w = Writer::default();
            w.integer(v);
            assert_eq!(Reader::new(&w.buf).integer("x").unwrap(), v, "{v}");
        }
        for v in [0u32, 127, 128, 16383, 16384, u32::MAX] {
            let mut w = Writer::default();
            w.uintvar(v);
            assert_eq!(Reader::new(&w.buf).uintvar("x").unwrap(), v, "{v}");
        }
        let mut w = Writer::default();
        w.value_length(31);
        assert_eq!(w.buf, [31, 31]);
    }

    #[test]
    fn every_header_round_trips() {
        let mut m = Message::new(pdu::MessageType::SEND_REQ);
        m.transaction_id = Some("t-1".into());
        m.version = Some((1, 3));
        m.message_id = Some("id".into());
        m.date = Some(1_700_000_000);
        m.from = Some(From::Address("+4912345/TYPE=PLMN".into()));
        m.to = vec!["+1555/TYPE=PLMN".into(), "a@b.c".into()];
        m.cc = vec!["+1666/TYPE=PLMN".into()];
        m.bcc = vec!["+1777/TYPE=PLMN".into()];
        m.subject = Some("Grüße 😀".into());
        m.message_class = Some("Personal".into());
        m.priority = Some("High".into());
        m.sender_visibility = Some("Hide".into());
        m.delivery_report = Some(true);
        m.read_report = Some(false);
        m.report_allowed = Some(true);
        m.content_location = Some("http://x/y".into());
        m.message_size = Some(123_456);
        m.expiry = Some(TimeValue::Relative(3600));
        m.delivery_time = Some(TimeValue::Absolute(1_700_000_100));
        m.status = Some(0x81);
        m.response_status = Some(0xC3);
        m.response_text = Some("später".into());
        m.retrieve_status = Some(0x80);
        m.retrieve_text = Some("ok".into());
        m.read_status = Some(0x80);
        let mut ct = ContentType::new("application/vnd.wap.multipart.related");
        ct.params = vec![("type".into(), "application/smil".into()), ("start".into(), "<s>".into())];
        m.content_type = Some(ct);
        let mut text = ContentType::new("text/plain");
        text.params = vec![("charset".into(), "utf-8".into()), ("name".into(), "t.txt".into())];
        text.charset = Some(106);
        let mut p = Part::new(text, "héllo".as_bytes().to_vec());
        p.headers.content_id = Some("<t>".into());
        p.headers.content_location = Some("t.txt".into());
        m.parts = vec![p, Part::new(ContentType::new("image/x-custom"), vec![0; 300])];
        let bytes = encode(&m).unwrap();
        let mut back = pdu::decode(&bytes).unwrap();
        // Decoding fills in the readable header list; compare the rest.
        for p in &mut back.parts {
            p.headers.list.clear();
        }
        assert_eq!(back, m);
    }

    #[test]
    fn odd_values_survive_a_round_trip() {
        let mut m = Message::new(pdu::MessageType::RETRIEVE_CONF);
        m.priority = Some("0x83".into());
        m.sender_visibility = Some("whatever".into()); // not writable: left out, not corrupted
        let mut ct = ContentType::new("text/plain");
        ct.params = vec![("charset".into(), "us-ascii".into())];
        m.content_type = Some(ct);
        let mut p = Part::new(ContentType::new("text/plain"), b"x".to_vec());
        p.headers.content_id = Some("\"abc\"".into());
        m.parts = vec![p];
        let back = pdu::decode(&encode(&m).unwrap()).unwrap();
        assert_eq!(back.priority.as_deref(), Some("0x83"));
        assert_eq!(back.sender_visibility, None);
        assert_eq!(back.content_type.unwrap().charset, Some(3));
        let mut multi = Message::new(pdu::MessageType::SEND_REQ);
        multi.content_type = Some(ContentType::new("application/vnd.wap.multipart.mixed"));
        let mut p = Part::new(ContentType::new("text/plain"), b"x".to_vec());
        p.headers.content_id = Some("\"abc\"".into());
        multi.parts = vec![p];
        let back = pdu::decode(&encode(&multi).unwrap()).unwrap();
        assert_eq!(back.parts[0].headers.content_id.as_deref(), Some("abc"));
    }

    #[test]
    fn notifyresp_matches_the_reference_header_bytes() {
        let bytes = notifyresp_ind("abc", (1, 0), 0x81).unwrap();
        assert_eq!(bytes, b"\x8c\x83\x98abc\x00\x8d\x90\x95\x81");
        let ack = pdu::decode(&acknowledge_ind("abc", (1, 2)).unwrap()).unwrap();
        assert_eq!(ack.message_type, pdu::MessageType::ACKNOWLEDGE_IND);
    }
}
