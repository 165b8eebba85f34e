//! Turning an outgoing text into submit_sm bodies: encoding per the data coding policy,
//! long messages per the long message policy, addresses with their TON/NPI.

use crate::backend::{OutgoingSms, SendError};
use crate::config::{DataCodingPolicy, LongMessagePolicy, SmppConfig};
use crate::smpp::{Address, Sm, Tlv, tlv};
use crate::sms::gsm7::{self, Tables};
use crate::sms::split::{self, Payload, SplitOptions, TextEncoding};
use crate::sms::udh::{Ie, Udh};

/// esm_class bit: short_message starts with a user data header.
pub const ESM_UDHI: u8 = 0x40;

const DC_DEFAULT: u8 = 0x00;
const DC_LATIN1: u8 = 0x03;
const DC_UCS2: u8 = 0x08;

/// TON/NPI for an address: `+digits` international (1/1), digits national (2/1),
/// anything else an alphanumeric sender (5/0).
pub fn address(addr: &str, ton: Option<u8>, npi: Option<u8>) -> Address {
    let (auto_ton, auto_npi, text) = match addr.strip_prefix('+') {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => (1, 1, d),
        _ if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit()) => (2, 1, addr),
        _ => (5, 0, addr),
    };
    Address { ton: ton.unwrap_or(auto_ton), npi: npi.unwrap_or(auto_npi), addr: text.to_string() }
}

/// SMPP relative validity (`YYMMDDhhmmss000R`, §7.1.1).
pub fn relative_validity(minutes: u32) -> String {
    let (days, rest) = (minutes / 1440, minutes % 1440);
    let (years, days) = ((days / 365).min(99), days % 365);
    let (months, days) = (days / 30, days % 30);
    format!("{years:02}{months:02}{days:02}{:02}{:02}00000R", rest / 60, rest % 60)
}

/// One submit_sm per part (one in all for `message_payload`).
pub fn build(sms: &OutgoingSms, cfg: &SmppConfig, opts: &SplitOptions) -> Result<Vec<Sm>, SendError> {
    if let Some(b) = &sms.binary {
        return Ok(vec![binary(sms, b, cfg)?]);
    }
    // With a class, data_coding is GSM's (0x1X): Latin-1 bytes would be read as GSM
    // septets there, so such text goes as unpacked GSM septets instead.
    let policy = match cfg.data_coding {
        DataCodingPolicy::Latin1 | DataCodingPolicy::SmscDefault if sms.options.class.is_some() => {
            DataCodingPolicy::Gsm7Unpacked
        }
        p => p,
    };
    let (data_coding, tables, parts) = encode(&sms.text, policy, opts)?;
    let data_coding = sms.options.class.map_or(data_coding, |c| with_class(data_coding, c));
    // Packed septets are packed only once the header is known: after a header they start
    // at the next septet boundary (3GPP TS 23.040 §9.2.3.24).
    let packed = cfg.data_coding == DataCodingPolicy::Gsm7Packed && matches!(parts.first(), Some(Unit::Septets(_)));
    let body = move |header: &[u8], units: &[u8]| -> Vec<u8> {
        let mut out = header.to_vec();
        if packed {
            let fill = (7 - (header.len() * 8) % 7) % 7;
            // Seven spare bits at the end would read as a trailing '@': pad with CR
            // instead, as 3GPP TS 23.038 §6.1.2.3.1 asks (receivers drop it).
            if (fill + units.len() * 7) % 8 == 1 {
                let mut padded = units.to_vec();
                padded.push(0x0D);
                out.extend(gsm7::pack(&padded, fill as u8));
                return out;
            }
            out.extend(gsm7::pack(units, fill as u8));
        } else {
            out.extend_from_slice(units);
        }
        out
    };
    let parts: Vec<Vec<u8>> = parts.into_iter().map(Unit::into_bytes).collect();
    let template = Sm { data_coding, ..envelope(sms, cfg) };
    let languages = language_ies(tables);
    let total = parts.len();
    // The same reference on every attempt, so a phone can drop parts it already has.
    let reference = sms.job_id as u16;
    let sm = |ies: Vec<Ie>, units: &[u8], tlvs: Vec<Tlv>| {
        let header = if ies.is_empty() { Vec::new() } else { Udh { ies }.to_bytes() };
        let esm_class = if header.is_empty() { 0 } else { ESM_UDHI };
        Sm { esm_class, short_message: body(&header, units), tlvs, ..template.clone() }
    };
    let out = match cfg.long_messages {
        _ if total == 1 => vec![sm(languages.clone(), &parts[0], vec![])],
        LongMessagePolicy::Udh => (1..=total)
            .map(|seq| {
                let mut ies = vec![Ie { iei: 0x00, data: vec![reference as u8, total as u8, seq as u8] }];
                ies.extend(languages.iter().cloned());
                sm(ies, &parts[seq - 1], vec![])
            })
            .collect(),
        LongMessagePolicy::Sar => (1..=total)
            .map(|seq| {
                let tlvs = vec![
                    Tlv::u16(tlv::SAR_MSG_REF_NUM, reference),
                    Tlv::u8(tlv::SAR_TOTAL_SEGMENTS, total as u8),
                    Tlv::u8(tlv::SAR_SEGMENT_SEQNUM, seq as u8),
                ];
                sm(languages.clone(), &parts[seq - 1], tlvs)
            })
            .collect(),
        LongMessagePolicy::Payload => {
            // The whole text packed in one go, not part by part.
            let header = if languages.is_empty() { Vec::new() } else { Udh { ies: languages }.to_bytes() };
            let esm_class = if header.is_empty() { 0 } else { ESM_UDHI };
            let payload = body(&header, &parts.concat());
            vec![Sm { esm_class, tlvs: vec![Tlv { tag: tlv::MESSAGE_PAYLOAD, value: payload }], ..template }]
        }
    };
    Ok(out)
}

/// data_coding with a message class: GSM's general coding group (0x10-0x1B, the same
/// values in SMPP, §5.2.19), keeping UCS-2 or 8-bit; other text is GSM's default alphabet.
fn with_class(dc: u8, class: u8) -> u8 {
    let alphabet = match dc {
        DC_UCS2 => 0x08,
        0x04 => 0x04,
        _ => 0x00,
    };
    0x10 | alphabet | (class & 0x03)
}

/// 8-bit data in one submit_sm, its header as given (data_coding 4, SMPP §5.2.19).
fn binary(sms: &OutgoingSms, b: &crate::message::BinarySms, cfg: &SmppConfig) -> Result<Sm, SendError> {
    if b.udh.len() + b.data.len() > crate::message::BinarySms::MAX_OCTETS {
        return Err(SendError::permanent("8-bit data over the 140 octets of one SMS"));
    }
    Ok(Sm {
        data_coding: sms.options.class.map_or(0x04, |c| with_class(0x04, c)),
        esm_class: if b.udh.is_empty() { 0 } else { ESM_UDHI },
        short_message: [b.udh.as_slice(), &b.data].concat(),
        ..envelope(sms, cfg)
    })
}

/// What every submit_sm of a message shares: addresses, report request, validity.
fn envelope(sms: &OutgoingSms, cfg: &SmppConfig) -> Sm {
    let validity = sms.options.validity_minutes.or(cfg.validity_minutes);
    Sm {
        // A country's sender gets its own type (a name TON 5, a number TON 1), whatever
        // the link's overrides for its usual source say.
        source: match &sms.sender {
            Some(s) => address(s, None, None),
            None => address(cfg.source_address.as_deref().unwrap_or(&sms.from), cfg.source_ton, cfg.source_npi),
        },
        dest: address(&sms.to, cfg.dest_ton, cfg.dest_npi),
        registered_delivery: cfg.registered_delivery as u8,
        validity_period: validity.map(relative_validity).unwrap_or_default(),
        ..Sm::default()
    }
}

fn language_ies(tables: Tables) -> Vec<Ie> {
    let mut ies = Vec::new();
    if let Some(l) = tables.single {
        ies.push(Ie { iei: 0x24, data: vec![l.id()] });
    }
    if let Some(l) = tables.locking {
        ies.push(Ie { iei: 0x25, data: vec![l.id()] });
    }
    ies
}

/// One part's text: unpacked septets (packed later, if at all) or final octets.
enum Unit {
    Septets(Vec<u8>),
    Octets(Vec<u8>),
}

impl Unit {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Unit::Septets(b) | Unit::Octets(b) => b,
        }
    }
}

/// data_coding, national tables, and the encoded text of each part (without headers).
fn encode(text: &str, policy: DataCodingPolicy, opts: &SplitOptions) -> Result<(u8, Tables, Vec<Unit>), SendError> {
    let latin = matches!(policy, DataCodingPolicy::Latin1 | DataCodingPolicy::SmscDefault);
    // Latin-1 on the wire still becomes GSM 7-bit on the air, so it is split like GSM
    // text, and only text that both alphabets carry goes that way.
    let mut opts = opts.clone();
    if latin {
        opts.languages.clear();
        if !text.chars().all(|c| (c as u32) < 0x100 && gsm7::is_gsm(c.encode_utf8(&mut [0; 4]))) {
            opts.force = Some(TextEncoding::Ucs2);
        }
    }
    let s = split::split(text, &opts).map_err(|e| SendError::permanent(e.what))?;
    let tables = match s.encoding {
        TextEncoding::Gsm7(t) => t,
        _ => Tables::DEFAULT,
    };
    let dc = match (s.encoding, policy) {
        (TextEncoding::Ucs2, _) => DC_UCS2,
        (TextEncoding::EightBit, _) => 0x04,
        (_, DataCodingPolicy::Latin1) => DC_LATIN1,
        _ => DC_DEFAULT,
    };
    let parts = s
        .parts
        .into_iter()
        .map(|p| match p {
            Payload::Octets(o) => Unit::Octets(o),
            Payload::Septets(s) => match policy {
                DataCodingPolicy::Gsm7Unpacked | DataCodingPolicy::Gsm7Packed => Unit::Septets(s),
                DataCodingPolicy::Latin1 | DataCodingPolicy::SmscDefault => {
                    Unit::Octets(gsm7::decode(&s, &Tables::DEFAULT).chars().map(|c| c as u8).collect())
                }
            },
        })
        .collect();
    Ok((dc, tables, parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::TlvList;

    fn sms(text: &str) -> OutgoingSms {
        OutgoingSms::text(0x1234, "+15550001111", "+447700900123", text)
    }

    fn cfg(dc: DataCodingPolicy, long: LongMessagePolicy) -> SmppConfig {
        SmppConfig { data_coding: dc, long_messages: long, ..SmppConfig::default() }
    }

    #[test]
    fn addresses_get_ton_npi() {
        assert_eq!(address("+15551234567", None, None), Address { ton: 1, npi: 1, addr: "15551234567".into() });
        assert_eq!(address("0612345678", None, None), Address { ton: 2, npi: 1, addr: "0612345678".into() });
        assert_eq!(address("MyShop", None, None), Address { ton: 5, npi: 0, addr: "MyShop".into() });
        assert_eq!(address("+1555", Some(0), Some(0)), Address { ton: 0, npi: 0, addr: "1555".into() });
    }

    #[test]
    fn validity_is_relative_smpp_time() {
        assert_eq!(relative_validity(90), "000000013000000R");
        assert_eq!(relative_validity(1440 * 2 + 5), "000002000500000R");
        assert_eq!(relative_validity(1440 * 400), "010105000000000R"); // 365 + 30 + 5 days
        assert_eq!(relative_validity(90).len(), 16);
    }

    #[test]
    fn short_gsm_text_is_one_unpacked_submit() {
        let parts = build(&sms("Hello @ home"), &SmppConfig::default(), &SplitOptions::default()).unwrap();
        assert_eq!(parts.len(), 1);
        let p = &parts[0];
        assert_eq!((p.data_coding, p.esm_class, p.registered_delivery), (0, 0, 1));
        assert_eq!(p.short_message, gsm7::encode("Hello @ home", &Tables::DEFAULT).unwrap());
        assert_eq!(p.short_message[6], 0x00, "@ is septet 0, unpacked");
        assert_eq!((p.source.ton, p.source.addr.as_str()), (1, "15550001111"));
        assert_eq!((p.dest.ton, p.dest.npi, p.dest.addr.as_str()), (1, 1, "447700900123"));
    }

    #[test]
    fn options_set_validity_and_class() {
        let mut m = sms("Hi");
        m.options = crate::message::SmsOptions { validity_minutes: Some(90), class: Some(0) };
        let c = SmppConfig { validity_minutes: Some(1440), ..SmppConfig::default() };
        let p = &build(&m, &c, &SplitOptions::default()).unwrap()[0];
        assert_eq!(
            (p.validity_period.as_str(), p.data_coding),
            ("000000013000000R", 0x10),
            "the message's own validity wins"
        );
        m.text = "Привет".into();
        m.options.class = Some(1);
        let p = &build(&m, &c, &SplitOptions::default()).unwrap()[0];
        assert_eq!(p.data_coding, 0x19, "UCS-2, class 1");
        // A Latin-1 link: with a class, the text goes as GSM septets, which 0x10 means.
        m.text = "a@b_$".into();
        m.options.class = Some(0);
        let latin = SmppConfig { data_coding: DataCodingPolicy::Latin1, ..c.clone() };
        let p = &build(&m, &latin, &SplitOptions::default()).unwrap()[0];
        assert_eq!((p.data_coding, p.short_message.clone()), (0x10, gsm7::encode("a@b_$", &Tables::DEFAULT).unwrap()));
        m.text = "Привет".into();
        m.options = Default::default();
        let p = &build(&m, &c, &SplitOptions::default()).unwrap()[0];
        assert_eq!((p.validity_period.as_str(), p.data_coding), ("000001000000000R", DC_UCS2), "the link's default");
    }

    #[test]
    fn binary_data_goes_as_it_is_with_its_header() {
        let mut m = sms("");
        // A WAP push to port 2948: the header names the ports.
        m.binary = Some(crate::message::BinarySms {
            udh: vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0],
            data: vec![1, 2, 3],
        });
        let parts = build(&m, &SmppConfig::default(), &SplitOptions::default()).unwrap();
        assert_eq!(parts.len(), 1);
        let p = &parts[0];
        assert_eq!((p.data_coding, p.esm_class), (0x04, ESM_UDHI));
        assert_eq!(p.short_message, [0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 1, 2, 3]);
        m.binary = Some(crate::message::BinarySms { udh: vec![], data: vec![0; 141] });
        assert!(build(&m, &SmppConfig::default(), &SplitOptions::default()).unwrap_err().is_permanent());
    }

    #[test]
    fn packed_policy_packs_septets() {
        let c = cfg(DataCodingPolicy::Gsm7Packed, LongMessagePolicy::Udh);
        let p = &build(&sms("hellohello"), &c, &SplitOptions::default()).unwrap()[0];
        assert_eq!(p.short_message, vec![0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]);
    }

    #[test]
    fn packed_parts_after_a_header_start_on_a_septet_boundary() {
        let c = cfg(DataCodingPolicy::Gsm7Packed, LongMessagePolicy::Udh);
        let text: String = (0..200).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let parts = build(&sms(&text), &c, &SplitOptions::default()).unwrap();
        assert_eq!(parts.len(), 2);
        let mut joined = String::new();
        for p in &parts {
            // 6-octet header = 48 bits: one fill bit, then the septets.
            let septets = ((p.short_message.len() - 6) * 8 - 1) / 7;
            let s = gsm7::unpack(&p.short_message[6..], septets, 1).unwrap();
            joined.push_str(gsm7::decode(&s, &Tables::DEFAULT).trim_end_matches('@'));
        }
        assert_eq!(joined, text);
        // message_payload: the whole text packed once, not part by part.
        let c = cfg(DataCodingPolicy::Gsm7Packed, LongMessagePolicy::Payload);
        let p = &build(&sms(&text), &c, &SplitOptions::default()).unwrap()[0];
        let payload = p.tlvs.tlv(tlv::MESSAGE_PAYLOAD).unwrap();
        assert_eq!(payload, gsm7::pack(&gsm7::encode(&text, &Tables::DEFAULT).unwrap(), 0));
    }

    #[test]
    fn seven_spare_bits_are_padded_with_cr_and_read_back_without() {
        let c = cfg(DataCodingPolicy::Gsm7Packed, LongMessagePolicy::Udh);
        let p = &build(&sms("abcdefg"), &c, &SplitOptions::default()).unwrap()[0];
        assert_eq!(p.short_message.len(), 7);
        let s = gsm7::unpack(&p.short_message, 8, 0).unwrap();
        assert_eq!(s.last(), Some(&0x0D), "CR in the spare bits, not '@'");
        let back = crate::backend::smpp::deliver::interpret(
            &crate::backend::smpp::deliver::Message::from(p),
            DataCodingPolicy::Gsm7Packed,
        )
        .unwrap();
        let crate::backend::smpp::deliver::Incoming::Sms(back) = back else { panic!("{back:?}") };
        assert_eq!(back.text, "abcdefg");
    }

    #[test]
    fn latin1_policies() {
        let c = cfg(DataCodingPolicy::Latin1, LongMessagePolicy::Udh);
        let p = &build(&sms("Grüße é"), &c, &SplitOptions::default()).unwrap()[0];
        assert_eq!(p.data_coding, 3);
        assert_eq!(p.short_message, "Grüße é".chars().map(|c| c as u8).collect::<Vec<_>>());
        // Δ is GSM but not Latin-1; € neither: UCS-2.
        for text in ["Δ", "5 €"] {
            let p = &build(&sms(text), &c, &SplitOptions::default()).unwrap()[0];
            assert_eq!(p.data_coding, 8, "{text}");
        }
        let c = cfg(DataCodingPolicy::SmscDefault, LongMessagePolicy::Udh);
        let p = &build(&sms("ok ü"), &c, &SplitOptions::default()).unwrap()[0];
        assert_eq!((p.data_coding, p.short_message.as_slice()), (0, &b"ok \xfc"[..]));
    }

    #[test]
    fn long_ucs2_text_gets_concatenation_udh() {
        let text = "Привет, мир! ".repeat(12); // 156 UCS-2 units: 3 parts of ≤ 67
        let parts = build(&sms(&text), &SmppConfig::default(), &SplitOptions::default()).unwrap();
        assert_eq!(parts.len(), 3);
        let mut joined = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            assert_eq!((p.data_coding, p.esm_class), (8, ESM_UDHI));
            assert_eq!(&p.short_message[..6], &[5, 0, 3, 0x34, 3, i as u8 + 1]);
            assert!(p.short_message.len() <= 140);
            joined.extend_from_slice(&p.short_message[6..]);
        }
        assert_eq!(crate::sms::ucs2::decode(&joined).unwrap(), text);
    }

    #[test]
    fn sar_policy_uses_tlvs_not_udh() {
        let c = cfg(DataCodingPolicy::Gsm7Unpacked, LongMessagePolicy::Sar);
        let text = "x".repeat(200);
        let parts = build(&sms(&text), &c, &SplitOptions::default()).unwrap();
        assert_eq!(parts.len(), 2);
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.esm_class, 0);
            assert_eq!(p.tlvs.tlv_u16(tlv::SAR_MSG_REF_NUM), Some(0x1234));
            assert_eq!(p.tlvs.tlv_u8(tlv::SAR_TOTAL_SEGMENTS), Some(2));
            assert_eq!(p.tlvs.tlv_u8(tlv::SAR_SEGMENT_SEQNUM), Some(i as u8 + 1));
        }
        assert_eq!(parts[0].short_message.len() + parts[1].short_message.len(), 200);
    }

    #[test]
    fn payload_policy_sends_one_pdu() {
        let c = cfg(DataCodingPolicy::Gsm7Unpacked, LongMessagePolicy::Payload);
        let text = "y".repeat(400);
        let parts = build(&sms(&text), &c, &SplitOptions::default()).unwrap();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].short_message.is_empty());
        assert_eq!(parts[0].tlvs.tlv(tlv::MESSAGE_PAYLOAD).unwrap(), text.as_bytes());
    }

    #[test]
    fn national_tables_add_language_shift_elements() {
        let opts = SplitOptions {
            languages: vec![crate::sms::national::Language::from_name("turkish").unwrap()],
            ..SplitOptions::default()
        };
        let p = &build(&sms("Işık ğ"), &SmppConfig::default(), &opts).unwrap()[0];
        assert_eq!(p.esm_class, ESM_UDHI);
        let udh = Udh::parse(&p.short_message[1..1 + p.short_message[0] as usize], 1).unwrap();
        assert!(udh.ies.iter().any(|ie| ie.iei == 0x24 || ie.iei == 0x25), "{udh:?}");
    }

    #[test]
    fn too_long_is_permanent() {
        let opts = SplitOptions { max_parts: 2, ..SplitOptions::default() };
        let e = build(&sms(&"z".repeat(400)), &SmppConfig::default(), &opts).unwrap_err();
        assert!(e.is_permanent(), "{e}");
    }
}
