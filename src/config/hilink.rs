//! `type: hilink` backend settings: a Huawei HiLink LTE router or stick, through its web API.

use jiff::tz::TimeZone;
use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HilinkConfig {
    /// The router's web address, e.g. `http://192.168.8.1`.
    pub url: String,
    pub username: String,
    /// None: the stick has no login.
    pub password: Option<String>,
    /// Seconds between polls of the inbox (fractions allowed, at least 0.1).
    pub poll_interval: f64,
    /// Seconds between the reads a poll skips while nothing is unread: the counts and the
    /// whole inbox (messages read in the router's web page), and SIM, signal and network.
    pub refresh_interval: u64,
    /// The router's clock, which stamps messages in local time: an IANA zone such as
    /// `Europe/Berlin`, `UTC`, or an offset such as `+02:00`. Default: the system's.
    pub timezone: Option<String>,
    /// Mark bridged messages read instead of deleting them. The router holds about 500
    /// messages and stops receiving when full.
    pub keep_on_router: bool,
    /// Treat the router's delivery reports (SmsType 7 and 8) as message status.
    pub delivery_reports: bool,
    /// Seconds a long message must stay unchanged (SmsType 2) before it is taken.
    pub multipart_wait: u64,
    /// Seconds one HTTP request to the router may take.
    pub request_timeout: u64,
    /// Seconds to wait for a send to settle (`send-status`).
    pub send_timeout: u64,
    /// Reconnect backoff bounds, seconds.
    pub reconnect_min_delay: u64,
    pub reconnect_max_delay: u64,
}

impl Default for HilinkConfig {
    fn default() -> Self {
        HilinkConfig {
            url: String::new(),
            username: "admin".into(),
            password: None,
            poll_interval: 5.0,
            refresh_interval: 60,
            timezone: None,
            keep_on_router: false,
            delivery_reports: true,
            multipart_wait: 10,
            request_timeout: 15,
            send_timeout: 120,
            reconnect_min_delay: 2,
            reconnect_max_delay: 120,
        }
    }
}

impl HilinkConfig {
    /// The router's time zone: `timezone`, else the system's (UTC when it has none).
    pub fn clock(&self) -> Result<TimeZone, String> {
        time_zone(self.timezone.as_deref())
    }

    pub(super) fn validate(&self, key: &dyn Fn(&str) -> String, p: &mut Problems) {
        match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => p.add(key("url"), format!("the router's web address, such as http://192.168.8.1, not {:?}", self.url)),
        }
        if self.username.trim().is_empty() {
            p.add(key("username"), "must not be empty (the web UI's user is usually admin)");
        }
        if let Err(e) = self.clock() {
            p.add(key("timezone"), e);
        }
        if self.multipart_wait > 600 {
            p.add(key("multipart_wait"), "at most 600 seconds: routers finish assembling long messages within minutes");
        }
        if !(0.1..=86_400.0).contains(&self.poll_interval) {
            p.add(key("poll_interval"), "must be between 0.1 and 86400 seconds");
        }
        if !(1..=86_400).contains(&self.refresh_interval) {
            p.add(key("refresh_interval"), "must be between 1 and 86400 seconds");
        }
        for (name, value) in [("request_timeout", self.request_timeout), ("send_timeout", self.send_timeout)] {
            if value == 0 {
                p.add(key(name), "must be at least 1 second");
            }
        }
        if self.reconnect_min_delay == 0 || self.reconnect_max_delay < self.reconnect_min_delay {
            p.add(key("reconnect_max_delay"), "needs 0 < reconnect_min_delay <= reconnect_max_delay");
        }
    }
}

/// `+02:00`, `-0530`, `UTC+1`: seconds east of UTC.
/// A time zone by IANA name or offset (`+02:00`); None: the system's (UTC when it has
/// none).
pub(super) fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    let Some(name) = name.map(str::trim) else {
        return Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC));
    };
    if let Some(offset) = parse_offset(name) {
        return jiff::tz::Offset::from_seconds(offset).map(|o| o.to_time_zone()).map_err(|e| e.to_string());
    }
    TimeZone::get(name).map_err(|_| format!("not a time zone such as Europe/Berlin, UTC or +02:00: {name:?}"))
}

fn parse_offset(text: &str) -> Option<i32> {
    let t = text.strip_prefix("UTC").or_else(|| text.strip_prefix("GMT")).unwrap_or(text);
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    if h.is_empty() || h.len() > 2 || m.len() > 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cfg: &HilinkConfig, text: &str) -> i64 {
        let civil: jiff::civil::DateTime = text.parse().unwrap();
        cfg.clock().unwrap().to_ambiguous_timestamp(civil).compatible().unwrap().as_second()
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+02:00"), Some(7200));
        assert_eq!(parse_offset("-0530"), Some(-(5 * 3600 + 30 * 60)));
        assert_eq!(parse_offset("UTC+1"), Some(3600));
        assert_eq!(parse_offset("Europe/Berlin"), None);
        assert_eq!(parse_offset("+25"), None);
        assert_eq!(parse_offset("+"), None);
    }

    #[test]
    fn zones_follow_daylight_saving() {
        let cfg = |tz: &str| HilinkConfig { timezone: Some(tz.into()), ..HilinkConfig::default() };
        // 2026-01-15 12:00 UTC is 1768478400.
        assert_eq!(at(&cfg("UTC"), "2026-01-15 12:00:00"), 1_768_478_400);
        assert_eq!(at(&cfg("Europe/Berlin"), "2026-01-15 13:00:00"), 1_768_478_400);
        // Summer: Berlin is two hours ahead.
        assert_eq!(at(&cfg("Europe/Berlin"), "2026-07-15 14:00:00"), 1_768_478_400 + 181 * 86_400);
        assert_eq!(at(&cfg("+05:30"), "2026-01-15 17:30:00"), 1_768_478_400);
        assert!(cfg("Mars/Olympus").clock().unwrap_err().contains("Mars/Olympus"));
    }
}
