//! A `sendsms` request (GET query or form-encoded POST body) read and checked the way
//! Kannel's smsbox does, in the same order, so the same bad request gets the same answer.

use std::collections::HashSet;

use super::answer::{Field, SendsmsError};
use super::charset::decode_text;
use super::form::{Pair, parse_form};

/// Kannel's `sendsms-chars` default: a receiver with any other character is denied.
const SENDSMS_CHARS: &[u8] = b"0123456789 +-";
/// Kannel's `ACCOUNT_MAX_LEN`.
const ACCOUNT_MAX_LEN: usize = 64;
/// Kannel's `MAX_SMS_OCTETS`: a UDH longer than a whole SMS is refused.
const MAX_UDH: usize = 140;

/// The `coding` parameter: the alphabet the message goes out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// 0: GSM 7-bit.
    SevenBit,
    /// 1: 8-bit data.
    EightBit,
    /// 2: UCS-2.
    Ucs2,
}

/// The message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    /// Coding 1: octets sent as they came (with `udh`, e.g. a port-addressed message).
    Binary(Vec<u8>),
}

/// A checked `sendsms` request. Credentials are not verified here, and the user's config
/// (forced or default smsc, default sender) is not applied: that is the caller's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSms {
    /// `username`, else `user`.
    pub user: String,
    /// `password`, else `pass`.
    pub password: String,
    /// `to`, split at whitespace (a `+` in the query is a space), without duplicates.
    pub recipients: Vec<String>,
    /// Numbers in `to` with characters outside `0-9 + -`: Kannel drops them and sends to
    /// the rest.
    pub denied: Vec<String>,
    pub payload: Payload,
    /// `from`; `None` when absent or empty (the user's default sender applies).
    pub from: Option<String>,
    /// `smsc`: the link id asked for; `None` when absent or empty.
    pub smsc: Option<String>,
    /// `coding`, or Kannel's default: 8-bit with a UDH, 7-bit without.
    pub coding: Coding,
    /// `charset` as given (already applied to `payload`).
    pub charset: Option<String>,
    /// `mclass` 0-3.
    pub mclass: Option<u8>,
    /// `validity`, minutes.
    pub validity_minutes: Option<u32>,
    /// `deferred`, minutes.
    pub deferred_minutes: Option<u32>,
    /// `dlr-mask` 0-31 (bits: 1 delivered, 2 failed, 4 buffered, 8 SMSC accepted,
    /// 16 SMSC rejected).
    pub dlr_mask: Option<u8>,
    /// `dlr-url`, an `http://` or `https://` URL with `%` escapes.
    pub dlr_url: Option<String>,
    /// `udh` octets, length-prefixed; empty when none.
    pub udh: Vec<u8>,
    /// `account` (at most 64 bytes, no `[]` or line breaks), for billing.
    pub account: Option<String>,
    /// `binfo`, billing information passed to the SMSC.
    pub binfo: Option<String>,
    /// `priority` 0-3.
    pub priority: Option<u8>,
    /// `pid`: TP-Protocol-Identifier 0-255.
    pub pid: Option<u8>,
    /// `mwi` 0-7: message waiting indicator (0-3 set, 4-7 clear voice/fax/e-mail/other).
    pub mwi: Option<u8>,
    /// `alt-dcs`: use the 0xFx DCS form.
    pub alt_dcs: Option<bool>,
    /// `rpi` 0-2: reply path.
    pub rpi: Option<u8>,
    /// `compress`: GSM compression asked for.
    pub compress: Option<bool>,
}

/// Reads a `sendsms` query string or `application/x-www-form-urlencoded` body.
pub fn parse_sendsms(raw: &[u8]) -> Result<SendSms, SendsmsError> {
    let pairs = parse_form(raw).map_err(|_| SendsmsError::BadEncoding)?;
    let args = Args(&pairs);

    // Kannel authenticates first: anything wrong before that is answered 403.
    let user = args.first(&["username", "user"]);
    let password = args.first(&["password", "pass"]);
    let (Some(user), Some(password)) = (user, password) else { return Err(SendsmsError::Authorization) };
    let (Ok(user), Ok(password)) = (String::from_utf8(user.to_vec()), String::from_utf8(password.to_vec())) else {
        return Err(SendsmsError::Authorization);
    };

    let to = args.get("to").ok_or(SendsmsError::MissingReceiver)?;
    if to.is_empty() {
        return Err(SendsmsError::EmptyReceiver);
    }

    let udh = args.get("udh").unwrap_or_default().to_vec();
    if !udh.is_empty() && udh.len() != usize::from(udh[0]) + 1 {
        return Err(SendsmsError::Field(Field::Udh));
    }
    if udh.len() > MAX_UDH {
        return Err(SendsmsError::UdhTooLong);
    }

    let (recipients, denied) = split_receivers(to);
    if recipients.is_empty() {
        return Err(SendsmsError::ReceiversDenied);
    }

    let account = args.text("account", SendsmsError::Account)?;
    if account.as_ref().is_some_and(|a| a.len() > ACCOUNT_MAX_LEN || a.contains(['[', ']', '\n', '\r'])) {
        return Err(SendsmsError::Account);
    }
    let binfo = args.text("binfo", SendsmsError::Field(Field::Binfo))?;

    let dlr_url = match args.get("dlr-url").or_else(|| args.get("dlrurl")) {
        Some(u) if !u.is_empty() => Some(dlr_url(u)?),
        _ => None,
    };

    let dlr_mask = args.number(&["dlr-mask", "dlrmask"], Field::DlrMask, 31)?;
    let mclass = args.number(&["mclass"], Field::MClass, 3)?;
    let pid = args.number(&["pid"], Field::Pid, 255)?;
    let rpi = args.number(&["rpi"], Field::Rpi, 2)?;
    let alt_dcs = args.number(&["alt-dcs"], Field::AltDcs, 1)?.map(|v| v == 1);
    let mwi = args.number(&["mwi"], Field::Mwi, 7)?;
    let coding = match args.number(&["coding"], Field::Coding, 2)? {
        Some(0) => Coding::SevenBit,
        Some(1) => Coding::EightBit,
        Some(_) => Coding::Ucs2,
        None if udh.is_empty() => Coding::SevenBit,
        None => Coding::EightBit,
    };
    let compress = args.number(&["compress"], Field::Compress, 1)?.map(|v| v == 1);
    let validity_minutes = args.number(&["validity"], Field::Validity, u32::MAX)?;
    let deferred_minutes = args.number(&["deferred"], Field::Deferred, u32::MAX)?;
    let priority = args.number(&["priority"], Field::Priority, 3)?;

    let from = args.text("from", SendsmsError::Field(Field::From))?;
    let smsc = args.text("smsc", SendsmsError::Field(Field::Smsc))?;
    let charset = args.text("charset", SendsmsError::Charset)?;
    let text = args.get("text").unwrap_or_default();
    let payload = decode_text(text, coding, charset.as_deref()).ok_or(SendsmsError::Charset)?;

    Ok(SendSms {
        user,
        password,
        recipients,
        denied,
        payload,
        from,
        smsc,
        coding,
        charset,
        mclass,
        validity_minutes,
        deferred_minutes,
        dlr_mask,
        dlr_url,
        udh,
        account,
        binfo,
        priority,
        pid,
        mwi,
        alt_dcs,
        rpi,
        compress,
    })
}

/// Kannel splits `to` at whitespace, denies numbers with other characters than
/// `sendsms-chars`, and sends once to each allowed number.
fn split_receivers(to: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut allowed, mut denied) = (Vec::<String>::new(), Vec::<String>::new());
    // A set, not `Vec::contains`: tens of thousands of numbers must not cost quadratic time.
    let mut seen = HashSet::new();
    for word in to.split(|b| b.is_ascii_whitespace() || *b == 0x0b).filter(|w| !w.is_empty()) {
        if !seen.insert(word) {
            continue;
        }
        let number = String::from_utf8_lossy(word).into_owned();
        if word.iter().all(|b| SENDSMS_CHARS.contains(b)) { allowed.push(number) } else { denied.push(number) }
    }
    (allowed, denied)
}

fn dlr_url(raw: &[u8]) -> Result<String, SendsmsError> {
    let url = String::from_utf8(raw.to_vec()).map_err(|_| SendsmsError::Field(Field::DlrUrl))?;
    let scheme_ok = |p: &str| url.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p));
    if url.len() < 8 || !(scheme_ok("http://") || scheme_ok("https://")) {
        return Err(SendsmsError::Field(Field::DlrUrl));
    }
    Ok(url)
}

/// The decoded pairs; the first of a repeated name wins, as in Kannel.
struct Args<'a>(&'a [Pair]);

impl<'a> Args<'a> {
    fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.0.iter().find(|(n, _)| n == name.as_bytes()).map(|(_, v)| v.as_slice())
    }

    fn first(&self, names: &[&str]) -> Option<&'a [u8]> {
        names.iter().find_map(|n| self.get(n))
    }

    /// A text parameter; absent and empty are the same.
    fn text(&self, name: &str, invalid: SendsmsError) -> Result<Option<String>, SendsmsError> {
        match self.get(name) {
            None | Some([]) => Ok(None),
            Some(v) => String::from_utf8(v.to_vec()).map(Some).map_err(|_| invalid),
        }
    }

    /// A number parameter in 0..=max; absent, empty and Kannel's "undefined" -1 are
    /// `None`. Kannel's sscanf ignores junk ("1x" is 1, "x" unset); we refuse it instead,
    /// with the line Kannel uses for out-of-range values.
    fn number<T: TryFrom<i64>>(&self, names: &[&str], field: Field, max: T) -> Result<Option<T>, SendsmsError>
    where
        i64: From<T>,
    {
        let Some(raw) = self.first(names) else { return Ok(None) };
        let text = std::str::from_utf8(raw).map_err(|_| SendsmsError::Field(field))?.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<i64>() {
            Ok(-1) => Ok(None),
            Ok(v) if (0..=i64::from(max)).contains(&v) => {
                T::try_from(v).map(Some).map_err(|_| SendsmsError::Field(field))
            }
            _ => Err(SendsmsError::Field(field)),
        }
    }
}
