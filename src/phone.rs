//! Phone numbers and other SMS addresses, normalised to E.164 where possible.

use std::collections::HashMap;
use std::hash::Hash;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use phonenumber::{Mode, country};

/// A bounded memo of the phone-number library's answers: parsing runs its regular
/// expressions, and the same few numbers make most messages.
struct Memo<K, V>(OnceLock<Mutex<HashMap<K, V>>>);

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    const fn new() -> Self {
        Memo(OnceLock::new())
    }

    fn get_or(&self, key: K, work: impl FnOnce(&K) -> V) -> V {
        let seen = self.0.get_or_init(Mutex::default);
        if let Some(v) = seen.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return v.clone();
        }
        let v = work(&key);
        let mut map = seen.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a flood of distinct numbers must not grow memory without end.
        if map.len() >= 4096 {
            map.clear();
        }
        map.insert(key, v.clone());
        v
    }
}

/// A remote SMS address: an E.164 number, a short code, or an alphanumeric sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Stable key used in ghost localparts and portal keys: E.164 digits without `+`,
    /// short-code digits, or a lower-case alphanumeric name.
    pub key: String,
    /// What a person reads, e.g. `+1 555-123-4567`.
    pub display: String,
    /// What a link can send to, if anything (alphanumeric senders cannot be replied to).
    pub destination: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("not a phone number: {0:?}")]
    Invalid(String),
    #[error("unknown region {0:?} (expected an ISO 3166 code such as \"US\" or \"DE\")")]
    Region(String),
}

/// The country (ISO 3166 region code) of an E.164 number; None for short codes and
/// numbers no country owns.
pub fn region_of(e164: &str) -> Option<String> {
    if !e164.starts_with('+') {
        return None;
    }
    static SEEN: Memo<String, Option<String>> = Memo::new();
    SEEN.get_or(e164.to_string(), |n| region_of_uncached(n))
}

fn region_of_uncached(e164: &str) -> Option<String> {
    let n = phonenumber::parse(None, e164).ok()?;
    if let Some(id) = n.country().id() {
        return Some(id.as_ref().to_string());
    }
    // A number no region claims (an unassigned range, a fictional 555 number): the main
    // country of its calling code, as an operator would bill it.
    let code = n.country().code();
    let regions = phonenumber::metadata::DATABASE.by_code(&code)?;
    let main = regions.iter().find(|m| m.is_main_country_for_code()).or(regions.first())?;
    Some(main.id().to_string())
}

/// Checks a region code for `bridge.default_region`.
pub fn parse_region(region: &str) -> Result<country::Id, PhoneError> {
    country::Id::from_str(&region.to_ascii_uppercase()).map_err(|_| PhoneError::Region(region.into()))
}

/// Normalises a number typed by a person (`+1 555 123 4567`, `(555) 123-4567`, `00 49 …`)
/// to E.164 (`+15551234567`). National forms need `region`.
///
/// Validity per libphonenumber is not required: fictional ranges such as 555 are
/// used in tests and by some operators' virtual numbers. Length and shape are.
pub fn normalize(input: &str, region: Option<&str>) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    let cleaned: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '/')).collect();
    let plus = cleaned.strip_prefix('+').or_else(|| cleaned.strip_prefix("00"));
    let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = plus {
        if !digits_ok(rest) || !(7..=15).contains(&rest.len()) {
            return Err(PhoneError::Invalid(input.into()));
        }
    } else if !digits_ok(&cleaned) {
        return Err(PhoneError::Invalid(input.into()));
    }
    let id = match (plus, region) {
        (Some(_), _) => None,
        (None, Some(r)) => Some(parse_region(r)?),
        (None, None) => return Err(PhoneError::Invalid(input.into())),
    };
    let text = match plus {
        Some(rest) => format!("+{rest}"),
        None => cleaned.clone(),
    };
    let number = phonenumber::parse(id, &text).map_err(|_| PhoneError::Invalid(input.into()))?;
    let e164 = number.format().mode(Mode::E164).to_string();
    if !(8..=16).contains(&e164.len()) {
        return Err(PhoneError::Invalid(input.into()));
    }
    Ok(e164)
}

/// `+15551234567` → `+1 555-123-4567`; falls back to the E.164 form.
pub fn international(e164: &str) -> String {
    match phonenumber::parse(None, e164) {
        Ok(n) => n.format().mode(Mode::International).to_string(),
        Err(_) => e164.to_string(),
    }
}

impl Address {
    /// An address known to be E.164 (`+` and digits).
    pub fn from_e164(e164: &str) -> Address {
        Address {
            key: e164.trim_start_matches('+').to_string(),
            display: international(e164),
            destination: Some(e164.to_string()),
        }
    }

    /// [`Address::parse`] with a memo: the same few numbers write most messages, and
    /// parsing one runs the phone-number library's regular expressions.
    pub fn parse_cached(raw: &str, region: Option<&str>) -> Address {
        static SEEN: Memo<(String, Option<String>), Address> = Memo::new();
        SEEN.get_or((raw.to_string(), region.map(str::to_string)), |(raw, region)| {
            Address::parse(raw, region.as_deref())
        })
    }

    /// Classifies a sender address as a link reports it.
    pub fn parse(raw: &str, region: Option<&str>) -> Address {
        let raw = raw.trim();
        // Links often drop the `+` of international numbers: a long digit string that
        // does not start with a trunk prefix is read as international.
        let digits_only = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        if digits_only
            && !raw.starts_with('0')
            && (raw.len() >= 11 || (region.is_none() && raw.len() > 8))
            && let Ok(e164) = normalize(&format!("+{raw}"), None)
        {
            return Address::from_e164(&e164);
        }
        if let Ok(e164) = normalize(raw, region) {
            // Short national strings like "12345" may parse; keep them as short codes.
            if raw.starts_with('+') || raw.starts_with("00") || raw.len() > 6 {
                return Address::from_e164(&e164);
            }
        }
        if !raw.is_empty() && raw.len() <= 8 && raw.bytes().all(|b| b.is_ascii_digit()) {
            return Address { key: raw.to_string(), display: raw.to_string(), destination: Some(raw.to_string()) };
        }
        let key: String = raw.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
        Address {
            key: if key.is_empty() { "unknown".into() } else { key },
            display: if raw.is_empty() { "unknown".into() } else { raw.to_string() },
            destination: None,
        }
    }

    /// Rebuilds an address from its key (e.g. from a ghost localpart).
    pub fn from_key(key: &str) -> Option<Address> {
        if key.is_empty() {
            return None;
        }
        if key.bytes().all(|b| b.is_ascii_digit()) {
            if key.len() <= 6 {
                return Some(Address::parse(key, None));
            }
            return normalize(&format!("+{key}"), None).ok().filter(|e| e[1..] == *key).map(|e| Address::from_e164(&e));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_forms() {
        for s in ["+1 555 123 4567", "+1 (555) 123-4567", "0015551234567", "+15551234567"] {
            assert_eq!(normalize(s, None).unwrap(), "+15551234567", "{s}");
        }
        assert_eq!(normalize("(555) 123-4567", Some("US")).unwrap(), "+15551234567");
        assert_eq!(normalize("030 123456", Some("de")).unwrap(), "+4930123456");
    }

    #[test]
    fn rejects_garbage() {
        assert!(normalize("hello", Some("US")).is_err());
        assert!(normalize("555 123 4567", None).is_err());
        assert!(normalize("+1", None).is_err());
        assert!(normalize("+1234567890123456", None).is_err());
        assert_eq!(normalize("5551234", Some("XX")), Err(PhoneError::Region("XX".into())));
    }

    #[test]
    fn formats_internationally() {
        assert_eq!(international("+15551234567"), "+1 555-123-4567");
        assert_eq!(international("+4930123456"), "+49 30 123456");
    }

    #[test]
    fn classifies_senders() {
        let a = Address::parse("+15551234567", None);
        assert_eq!(a.key, "15551234567");
        assert_eq!(a.destination.as_deref(), Some("+15551234567"));
        let s = Address::parse("12345", Some("US"));
        assert_eq!((s.key.as_str(), s.destination.as_deref()), ("12345", Some("12345")));
        let n = Address::parse("My Bank", None);
        assert_eq!((n.key.as_str(), n.display.as_str(), n.destination), ("mybank", "My Bank", None));
        assert_eq!(Address::from_key("15551234567").unwrap().destination.unwrap(), "+15551234567");
        assert_eq!(Address::from_key("12345").unwrap().destination.unwrap(), "12345");
        assert!(Address::from_key("mybank").is_none());
        // International numbers without their `+`, as links often report them.
        assert_eq!(Address::parse("15551234567", None).destination.as_deref(), Some("+15551234567"));
        assert_eq!(Address::parse("4915112345678", Some("US")).destination.as_deref(), Some("+4915112345678"));
        assert_eq!(Address::parse("5551234567", Some("US")).destination.as_deref(), Some("+15551234567"));
        assert_eq!(Address::parse("01511234567", Some("DE")).destination.as_deref(), Some("+491511234567"));
    }
}
