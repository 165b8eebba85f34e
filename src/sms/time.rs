//! Service-centre timestamps and validity periods (3GPP TS 23.040 §9.2.3.11, §9.2.3.12).

use super::{Result, SmsError};

/// A timestamp as the PDU carries it: local time plus its offset in quarter hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in quarters of an hour (-79..=79).
    pub tz_quarters: i8,
}

fn bcd(b: u8, at: usize) -> Result<u8> {
    let (lo, hi) = (b & 0x0F, b >> 4);
    if lo > 9 || hi > 9 {
        return Err(SmsError::new(format!("timestamp octet 0x{b:02X} is not decimal"), at));
    }
    Ok(lo * 10 + hi)
}

fn to_bcd(v: u8) -> u8 {
    (v % 10) << 4 | (v / 10)
}

impl Timestamp {
    pub fn decode(b: &[u8], at: usize) -> Result<Timestamp> {
        let b: &[u8; 7] =
            b.get(..7).and_then(|s| s.try_into().ok()).ok_or_else(|| SmsError::new("timestamp needs 7 octets", at))?;
        let yy = bcd(b[0], at)?;
        let tz_tens = b[6] & 0x07;
        let tz_units = b[6] >> 4;
        if tz_units > 9 {
            return Err(SmsError::new("time zone octet is not decimal", at + 6));
        }
        let quarters = (tz_tens * 10 + tz_units) as i8;
        let t = Timestamp {
            year: if yy < 90 { 2000 + yy as u16 } else { 1900 + yy as u16 },
            month: bcd(b[1], at + 1)?,
            day: bcd(b[2], at + 2)?,
            hour: bcd(b[3], at + 3)?,
            minute: bcd(b[4], at + 4)?,
            second: bcd(b[5], at + 5)?,
            tz_quarters: if b[6] & 0x08 != 0 { -quarters } else { quarters },
        };
        if !(1..=12).contains(&t.month) || !(1..=31).contains(&t.day) || t.hour > 23 || t.minute > 59 || t.second > 59 {
            return Err(SmsError::new("timestamp out of range", at));
        }
        Ok(t)
    }

    pub fn encode(&self) -> [u8; 7] {
        let q = self.tz_quarters.unsigned_abs();
        let tz = to_bcd(q) | if self.tz_quarters < 0 { 0x08 } else { 0 };
        [
            to_bcd((self.year % 100) as u8),
            to_bcd(self.month),
            to_bcd(self.day),
            to_bcd(self.hour),
            to_bcd(self.minute),
            to_bcd(self.second),
            tz,
        ]
    }

    /// RFC 3339 with the PDU's own offset, e.g. `2009-09-01T17:41:32+01:00`.
    pub fn rfc3339(&self) -> String {
        let off = self.tz_quarters as i32 * 15;
        let sign = if off < 0 { '-' } else { '+' };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            off.abs() / 60,
            off.abs() % 60
        )
    }

    /// Milliseconds since the Unix epoch (UTC).
    pub fn unix_ms(&self) -> i64 {
        let days = days_from_civil(self.year as i64, self.month as i64, self.day as i64);
        let secs = days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
            - self.tz_quarters as i64 * 900;
        secs * 1000
    }

    /// Unix seconds as a UTC timestamp (the inverse of [`Timestamp::unix_ms`]).
    pub fn from_unix(secs: i64) -> Timestamp {
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Civil date from days since 1970-01-01, in 400-year eras (proleptic Gregorian).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        let (hour, minute, second) = ((rem / 3600) as u8, (rem / 60 % 60) as u8, (rem % 60) as u8);
        Timestamp { year, month, day, hour, minute, second, tz_quarters: 0 }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// TP-VP as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// The relative format's one octet.
    Relative(u8),
    Absolute(Timestamp),
    /// Enhanced format (7 octets), kept raw.
    Enhanced([u8; 7]),
}

impl Validity {
    /// The relative octet for a duration, rounding down to the format's steps:
    /// 5 min steps to 12 h, 30 min to 24 h, days to 30 days, weeks to 63 weeks.
    pub fn relative_minutes(minutes: u32) -> Result<Validity> {
        let vp = match minutes {
            0..=4 => return Err(SmsError::new("validity below the minimum of 5 minutes", 0)),
            5..=720 => minutes / 5 - 1,
            721..=1440 => (minutes - 720) / 30 + 143,
            1441..=43_200 => minutes / 1440 + 166,
            43_201..=635_040 => minutes / 10_080 + 192,
            _ => return Err(SmsError::new("validity above the maximum of 63 weeks", 0)),
        };
        Ok(Validity::Relative(vp as u8))
    }

    /// Minutes a relative octet stands for.
    pub fn minutes(vp: u8) -> u32 {
        match vp {
            0..=143 => (vp as u32 + 1) * 5,
            144..=167 => 720 + (vp as u32 - 143) * 30,
            168..=196 => (vp as u32 - 166) * 1440,
            _ => (vp as u32 - 192) * 10_080,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_round_trip() {
        for secs in [0, 951_782_400, 1_796_426_270, 4_102_444_799] {
            assert_eq!(Timestamp::from_unix(secs).unix_ms(), secs * 1000, "{secs}");
        }
        let t = Timestamp::from_unix(951_782_400);
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
    }

    #[test]
    fn decodes_with_offsets() {
        let t = Timestamp::decode(&[0x90, 0x90, 0x10, 0x71, 0x14, 0x23, 0x40], 0).unwrap();
        assert_eq!(t.rfc3339(), "2009-09-01T17:41:32+01:00");
        assert_eq!(t.unix_ms(), 1_251_823_292_000);
        let m = Timestamp::decode(&[0x01, 0x90, 0x11, 0x51, 0x01, 0x11, 0x29], 0).unwrap();
        assert_eq!(m.rfc3339(), "2010-09-11T15:10:11-03:00");
        assert_eq!(Timestamp::decode(&m.encode(), 0).unwrap(), m);
        assert!(Timestamp::decode(&[0x01, 0x90, 0x11, 0x51, 0x01, 0x11], 0).is_err());
        assert!(Timestamp::decode(&[0xFF, 0x90, 0x11, 0x51, 0x01, 0x11, 0x29], 0).is_err());
    }

    #[test]
    fn relative_validity_round_trips_its_steps() {
        for vp in 0..=255u8 {
            assert_eq!(Validity::relative_minutes(Validity::minutes(vp)).unwrap(), Validity::Relative(vp), "{vp}");
        }
    }
}
