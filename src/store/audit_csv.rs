//! The audit log as CSV (RFC 4180, a header first, times in RFC 3339 UTC), the file
//! admins open in a spreadsheet: a cell an outsider wrote (an SMS's text, a sender's name)
//! that a spreadsheet would take for a formula is written as text.

use super::AuditRecord;

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 15] = [
    "time",
    "direction",
    "kind",
    "link",
    "our_number",
    "their_number",
    "by",
    "keyword",
    "parts",
    "encoding",
    "message_ids",
    "status",
    "status_time",
    "reason",
    "text",
];

/// The records as CSV (RFC 4180), a header first; times in RFC 3339, UTC.
pub fn audit_csv(records: &[AuditRecord]) -> String {
    let time = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default()
    };
    let mut out = String::new();
    crate::csv::write_record(&mut out, &CSV_HEADER);
    for r in records {
        let opt = |v: &Option<String>| defused(v.as_deref().unwrap_or_default());
        crate::csv::write_record(
            &mut out,
            &[
                time(r.at),
                r.direction.clone(),
                r.kind.clone(),
                r.link.clone(),
                opt(&r.local),
                opt(&r.remote),
                defused(&r.origin),
                opt(&r.keyword),
                r.parts.map(|p| p.to_string()).unwrap_or_default(),
                opt(&r.encoding),
                opt(&r.message_ids),
                r.status.clone(),
                time(r.status_at),
                opt(&r.reason),
                opt(&r.text),
            ],
        );
    }
    out
}

/// A cell as text, even where a spreadsheet would read a formula (`=`, `+`, `-`, `@`, a
/// tab or CR first): behind a `'`. A plain number (`+15551234567`, `-3`) stays as it is.
fn defused(cell: &str) -> String {
    // One number, or a group's list of them.
    let number = |s: &str| {
        s.split(',').all(|n| {
            let digits = n.strip_prefix(['+', '-']).unwrap_or(n);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        })
    };
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if !number(cell) => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_the_documented_columns() {
        let r = AuditRecord {
            id: 1,
            at: 1_796_083_200_000,
            direction: "out".into(),
            kind: "sms".into(),
            link: "b".into(),
            local: Some("+15550001111".into()),
            remote: Some("+15551234567".into()),
            origin: "api:app".into(),
            keyword: None,
            parts: Some(2),
            encoding: Some("ucs2".into()),
            message_ids: Some("m1 m2".into()),
            status: "delivered".into(),
            status_at: 1_796_083_201_500,
            reason: None,
            text: Some("hi, \"you\"".into()),
        };
        let csv = audit_csv(&[r]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert_eq!(
            lines[1],
            "2026-12-01T00:00:00.000Z,out,sms,b,+15550001111,+15551234567,api:app,,2,ucs2,m1 m2,delivered,2026-12-01T00:00:01.500Z,,\"hi, \"\"you\"\"\""
        );
        assert_eq!(lines[2], "");
    }

    #[test]
    fn formulas_are_written_as_text_and_numbers_as_they_are() {
        assert_eq!(defused("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(defused("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defused("-2+3"), "'-2+3", "not a number: an expression");
        assert_eq!(defused("+15551234567"), "+15551234567");
        assert_eq!(defused("+15551234567,+15557654321"), "+15551234567,+15557654321");
        assert_eq!(defused("h:0a1b"), "h:0a1b");
        assert_eq!(defused("hello = world"), "hello = world");
        assert_eq!(defused(""), "");
    }
}
