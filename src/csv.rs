//! CSV as RFC 4180 writes it: fields separated by commas, records ended by CRLF, a field
//! quoted when it holds a comma, a quote or a line break, its quotes doubled. Pure: text in,
//! text out.

/// Appends one record to `out`.
pub fn write_record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_field(out, field.as_ref());
    }
    out.push_str("\r\n");
}

fn write_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> String {
        let mut out = String::new();
        write_record(&mut out, fields);
        out
    }

    #[test]
    fn plain_fields_are_written_as_they_are() {
        assert_eq!(record(&["a", "", "+15551234567", "héllo"]), "a,,+15551234567,héllo\r\n");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted() {
        assert_eq!(record(&["a,b"]), "\"a,b\"\r\n");
        assert_eq!(record(&["say \"hi\""]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(record(&["two\nlines", "cr\rhere", "x"]), "\"two\nlines\",\"cr\rhere\",x\r\n");
        assert_eq!(record(&["\""]), "\"\"\"\"\r\n");
    }

    #[test]
    fn records_follow_each_other() {
        let mut out = String::new();
        write_record(&mut out, &["h1", "h2"]);
        write_record(&mut out, &["1", "2"]);
        assert_eq!(out, "h1,h2\r\n1,2\r\n");
    }
}
