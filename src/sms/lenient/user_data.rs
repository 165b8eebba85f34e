//! User data as modems deliver it: shorter than declared, a header flag with nothing behind
//! it, a broken header. What is there is decoded and the rest is named in a warning.

use super::Notes;
use crate::sms::dcs::{Alphabet, Dcs};
use crate::sms::gsm7::{self, ESC, Tables};
use crate::sms::tpdu::UserData;
use crate::sms::ucs2;
use crate::sms::udh::Udh;

/// Reads TP-UDL at octet `at` and the user data after it. Returns the user data and the
/// octet after the part of it that is present.
pub fn decode(bytes: &[u8], at: usize, dcs: Dcs, udhi: bool, notes: &mut Notes) -> (UserData, usize) {
    let Some(&udl) = bytes.get(at) else {
        notes.cut(format!("user data length missing at octet {at}: shown as empty"));
        let text = (!dcs.compressed && dcs.alphabet != Alphabet::EightBit).then(String::new);
        return (UserData { udh: None, text, payload: Vec::new() }, at);
    };
    let (udl, ud_at) = (udl as usize, at + 1);
    let septets = dcs.alphabet == Alphabet::Gsm7 && !dcs.compressed;
    let declared = if septets { (udl * 7).div_ceil(8) } else { udl };
    let rest = bytes.get(ud_at..).unwrap_or_default();
    let ud = &rest[..declared.min(rest.len())];
    let short = ud.len() < declared;
    if short {
        let unit = if septets { " septets" } else { "" };
        notes.cut(format!(
            "user data at octet {ud_at} is {} octets shorter than its declared length {udl}{unit}: shown as truncated",
            declared - ud.len()
        ));
    }
    let (udh, header_octets) = header(ud, ud_at, udhi, udl, notes);
    let body = ud.get(header_octets..).unwrap_or_default();
    let user_data = match dcs.alphabet {
        _ if dcs.compressed => UserData { udh, text: None, payload: body.to_vec() },
        Alphabet::Gsm7 => {
            // Septets after the header start at the next septet boundary.
            let header_septets = (header_octets * 8).div_ceil(7);
            let fill = (header_septets * 7 - header_octets * 8) as u8;
            let count = udl.min(ud.len() * 8 / 7).saturating_sub(header_septets);
            let payload = gsm7::unpack(body, count, fill).unwrap_or_default();
            // A cut can leave half of an escape pair: no character.
            let shown = match payload.split_last() {
                Some((&ESC, init)) if short => init,
                _ => &payload,
            };
            let tables = udh
                .as_ref()
                .map(|u| Tables { locking: u.locking_shift(), single: u.single_shift() })
                .unwrap_or_default();
            UserData { udh, text: Some(gsm7::decode(shown, &tables)), payload }
        }
        Alphabet::Ucs2 => {
            let mut whole = &body[..body.len() - body.len() % 2];
            if whole.len() < body.len() && !short {
                let last = ud_at + ud.len() - 1;
                notes
                    .warn(format!("UCS-2 text has an odd number of octets: the last one, at octet {last}, is ignored"));
            }
            // A cut can leave the first half of a surrogate pair: no character.
            if let [init @ .., hi, _] = whole
                && short
                && (0xD8..=0xDB).contains(hi)
            {
                whole = init;
            }
            UserData { udh, text: Some(ucs2::decode(whole).unwrap_or_default()), payload: body.to_vec() }
        }
        Alphabet::EightBit => UserData { udh, text: None, payload: body.to_vec() },
    };
    (user_data, ud_at + ud.len())
}

/// The header and the octets it takes (its length octet included). A header that runs
/// past the user data takes all of it; a broken one still takes the octets it claims.
fn header(ud: &[u8], ud_at: usize, udhi: bool, udl: usize, notes: &mut Notes) -> (Option<Udh>, usize) {
    if !udhi {
        return (None, 0);
    }
    if udl == 0 {
        notes.warn(format!("TP-UDHI is set but the user data at octet {ud_at} is empty: read as no header"));
        return (None, 0);
    }
    let Some(&udhl) = ud.first() else { return (None, 0) };
    let octets = 1 + udhl as usize;
    let Some(body) = ud.get(1..octets) else {
        notes.warn(format!(
            "user data header at octet {ud_at} claims {udhl} octets, only {} present: dropped with the text",
            ud.len() - 1
        ));
        return (None, ud.len());
    };
    match Udh::parse(body, ud_at + 1) {
        Ok(udh) => (Some(udh), octets),
        Err(e) => {
            notes.warn(format!("user data header dropped: {} (at octet {})", e.what, e.at));
            (None, octets)
        }
    }
}
