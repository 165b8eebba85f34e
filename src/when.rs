//! Times people type for a scheduled message: `2026-12-24 09:00`, `tomorrow 8:00`,
//! `18:30` (the next one), `+2h`, `+1h30m`, read in a given time zone.

use jiff::civil::{Date, Time};
use jiff::{Span, Timestamp, Zoned};

const FORMS: &str = "use 2026-12-24 09:00, tomorrow 8:00, 18:30 or +2h";

/// The time at the start of `text` and the rest of the text (trimmed), as seen at `now`
/// in `now`'s time zone. Refused: a time that is not in the future.
pub fn parse_when<'a>(text: &'a str, now: &Zoned) -> Result<(Timestamp, &'a str), String> {
    let text = text.trim_start();
    let (first, rest) = split_word(text);
    let (at, rest) = if let Some(span) = first.strip_prefix('+') {
        (now.timestamp() + relative(span)?, rest)
    } else if let Ok(time) = clock(first) {
        // The next such time: today, or tomorrow if it has passed.
        let today = now.date().to_datetime(time).to_zoned(now.time_zone().clone()).map_err(|e| e.to_string())?;
        let at = if today.timestamp() > now.timestamp() { today } else { day_at(now, now.date().tomorrow(), time)? };
        (at.timestamp(), rest)
    } else {
        let date = match first.to_ascii_lowercase().as_str() {
            "today" => now.date(),
            "tomorrow" => now.date().tomorrow().map_err(|e| e.to_string())?,
            _ => first.parse::<Date>().map_err(|_| format!("cannot read {first:?} as a time: {FORMS}"))?,
        };
        let (second, rest) = split_word(rest);
        let time = clock(second).map_err(|_| format!("cannot read {second:?} as a time of day: {FORMS}"))?;
        (day_at(now, Ok(date), time)?.timestamp(), rest)
    };
    if at <= now.timestamp() {
        return Err(format!("{} has passed", at.to_zoned(now.time_zone().clone()).strftime("%Y-%m-%d %H:%M %Z")));
    }
    Ok((at, rest.trim()))
}

fn split_word(text: &str) -> (&str, &str) {
    text.split_once(char::is_whitespace).unwrap_or((text, ""))
}

fn day_at(now: &Zoned, date: Result<Date, jiff::Error>, time: Time) -> Result<Zoned, String> {
    let date = date.map_err(|e| e.to_string())?;
    date.to_datetime(time).to_zoned(now.time_zone().clone()).map_err(|e| e.to_string())
}

/// `8:00`, `18:30`.
fn clock(word: &str) -> Result<Time, ()> {
    let (h, m) = word.split_once(':').ok_or(())?;
    if !(1..=2).contains(&h.len()) || m.len() != 2 {
        return Err(());
    }
    let (h, m): (i8, i8) = (h.parse().map_err(|_| ())?, m.parse().map_err(|_| ())?);
    Time::new(h, m, 0, 0).map_err(|_| ())
}

/// `2h`, `30m`, `1d`, `1h30m`.
fn relative(text: &str) -> Result<Span, String> {
    let bad = || format!("cannot read +{text} as a delay: {FORMS}");
    let mut minutes: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        minutes += n * match c {
            'm' => 1,
            'h' => 60,
            'd' => 1440,
            _ => return Err(bad()),
        };
        if minutes > 366 * 1440 {
            return Err(bad());
        }
    }
    if !number.is_empty() || minutes == 0 {
        return Err(bad());
    }
    Ok(Span::new().minutes(minutes))
}

/// A bound of a period to look back on (`audit export --since/--until`): a date (UTC), or
/// a time with its offset (`2026-12-01T10:00:00Z`). A date as the end of a period
/// (`end`) means the end of that day, so `--until 2026-12-07` takes all of it.
pub fn parse_bound(text: &str, end: bool) -> Result<Timestamp, String> {
    let text = text.trim();
    // A date alone: jiff would also read the date of a date and time as one.
    if !text.contains(['T', 't', ' '])
        && let Ok(date) = text.parse::<Date>()
    {
        let day = if end { date.tomorrow().map_err(|e| e.to_string())? } else { date };
        return day.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string());
    }
    text.parse::<Timestamp>()
        .map_err(|_| format!("cannot read {text:?} as a date or a time: use 2026-12-01 or 2026-12-01T10:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        "2026-12-05T10:15:00[Europe/Berlin]".parse().unwrap()
    }

    fn at(text: &str) -> Result<(String, String), String> {
        parse_when(text, &now()).map(|(t, rest)| {
            (t.to_zoned(now().time_zone().clone()).strftime("%Y-%m-%d %H:%M").to_string(), rest.to_string())
        })
    }

    #[test]
    fn reads_the_forms_people_type() {
        let ok = |a: &str, b: &str| Ok((a.to_string(), b.to_string()));
        assert_eq!(at("2026-12-24 09:00 Merry Christmas!"), ok("2026-12-24 09:00", "Merry Christmas!"));
        assert_eq!(at("tomorrow 8:00 wake up"), ok("2026-12-06 08:00", "wake up"));
        assert_eq!(at("today 18:30 dinner"), ok("2026-12-05 18:30", "dinner"));
        assert_eq!(at("18:30 dinner"), ok("2026-12-05 18:30", "dinner"));
        assert_eq!(at("09:00 next morning"), ok("2026-12-06 09:00", "next morning"), "passed today: tomorrow");
        assert_eq!(at("+2h  call me"), ok("2026-12-05 12:15", "call me"));
        assert_eq!(at("+1h30m x"), ok("2026-12-05 11:45", "x"));
        assert_eq!(at("+1d"), ok("2026-12-06 10:15", ""));
    }

    #[test]
    fn refuses_what_it_cannot_read_or_what_has_passed() {
        for bad in
            ["soon hi", "+2x hi", "+h hi", "+0m hi", "+999d hi", "2026-12-24 hi", "25:00 hi", "2026-13-01 09:00 x"]
        {
            let e = at(bad).unwrap_err();
            assert!(e.contains("cannot read"), "{bad}: {e}");
        }
        assert_eq!(at("2026-12-01 09:00 late").unwrap_err(), "2026-12-01 09:00 CET has passed");
        assert_eq!(at("today 08:00 x").unwrap_err(), "2026-12-05 08:00 CET has passed");
    }

    #[test]
    fn bounds_are_dates_in_utc_or_times_with_an_offset() {
        let ms = |t: &str, end| parse_bound(t, end).unwrap().as_millisecond();
        assert_eq!(ms("2026-12-01", false), 1_796_083_200_000);
        assert_eq!(ms("2026-12-01", true), 1_796_083_200_000 + 86_400_000);
        assert_eq!(ms("2026-12-01T10:00:00Z", true), 1_796_083_200_000 + 36_000_000);
        assert_eq!(ms("2026-12-01T11:00:00+01:00", false), 1_796_083_200_000 + 36_000_000);
        assert!(parse_bound("last week", false).unwrap_err().contains("2026-12-01"));
    }
}
