//! Timestamps with bad fields: the rest of the time is kept and each bad field is named.

use crate::sms::time::Timestamp;

const FIELDS: [(&str, u8, u8); 6] =
    [("year", 0, 99), ("month", 1, 12), ("day", 1, 31), ("hour", 0, 23), ("minute", 0, 59), ("second", 0, 59)];

/// Decodes 7 octets found at octet `at`. A field that is not decimal or out of range reads
/// as its lowest value (0, or 1 for month and day, so the date stays a date); a zone that
/// is not decimal reads as UTC. `what` names the timestamp in warnings.
pub fn decode(b: &[u8; 7], at: usize, what: &str, warnings: &mut Vec<String>) -> Timestamp {
    if let Ok(t) = Timestamp::decode(b, at) {
        return t;
    }
    let mut v = [0u8; 6];
    for (i, &(name, lowest, highest)) in FIELDS.iter().enumerate() {
        let (lo, hi) = (b[i] & 0x0F, b[i] >> 4);
        v[i] = if lo > 9 || hi > 9 {
            warnings.push(format!("{what} {name} 0x{:02X} at octet {} is not decimal: read as {lowest}", b[i], at + i));
            lowest
        } else if !(lowest..=highest).contains(&(lo * 10 + hi)) {
            warnings.push(format!(
                "{what} {name} {} at octet {} is out of range: read as {lowest}",
                lo * 10 + hi,
                at + i
            ));
            lowest
        } else {
            lo * 10 + hi
        };
    }
    let (tens, units) = (b[6] & 0x07, b[6] >> 4);
    let tz_quarters = if units > 9 {
        warnings.push(format!("{what} time zone 0x{:02X} at octet {} is not decimal: read as UTC", b[6], at + 6));
        0
    } else {
        let q = (tens * 10 + units) as i8;
        if b[6] & 0x08 != 0 { -q } else { q }
    };
    Timestamp {
        year: if v[0] < 90 { 2000 + v[0] as u16 } else { 1900 + v[0] as u16 },
        month: v[1],
        day: v[2],
        hour: v[3],
        minute: v[4],
        second: v[5],
        tz_quarters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_timestamp_has_no_warnings() {
        let mut w = Vec::new();
        let t = decode(&[0x90, 0x90, 0x10, 0x71, 0x14, 0x23, 0x40], 0, "timestamp", &mut w);
        assert_eq!((t.rfc3339().as_str(), w.len()), ("2009-09-01T17:41:32+01:00", 0));
    }

    #[test]
    fn a_zone_that_is_not_decimal_reads_as_utc() {
        let mut w = Vec::new();
        let t = decode(&[0x42, 0x50, 0x31, 0x41, 0x32, 0x05, 0xFA], 12, "service centre timestamp", &mut w);
        assert_eq!(t.rfc3339(), "2024-05-13T14:23:50+00:00");
        assert_eq!(w, ["service centre timestamp time zone 0xFA at octet 18 is not decimal: read as UTC"]);
    }

    #[test]
    fn bad_fields_read_as_their_lowest_value_and_the_rest_is_kept() {
        let mut w = Vec::new();
        // Minute 0xA3 is not decimal; month 31 is out of range.
        let t = decode(&[0x42, 0x13, 0x31, 0x41, 0xA3, 0x05, 0x00], 0, "discharge time", &mut w);
        assert_eq!(t.rfc3339(), "2024-01-13T14:00:50+00:00");
        assert_eq!(
            w,
            [
                "discharge time month 31 at octet 1 is out of range: read as 1",
                "discharge time minute 0xA3 at octet 4 is not decimal: read as 0",
            ]
        );
    }
}
