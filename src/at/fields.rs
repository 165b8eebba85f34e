//! The parameters after `+XXXX:`: comma-separated, strings in double quotes (which may
//! hold commas), lists in parentheses.

/// Splits `+CMGL: 3,0,"a,b",27` into its prefix (`+CMGL`) and the text after the colon.
pub fn split_prefix(line: &str) -> Option<(&str, &str)> {
    let (prefix, rest) = line.split_once(':')?;
    let prefix = prefix.trim();
    // `+CMS ERROR` has a space; a colon inside free text ("Balance: 5") is not a prefix.
    if prefix.is_empty() || prefix.contains(char::is_whitespace) && !prefix.starts_with('+') {
        return None;
    }
    Some((prefix, rest.trim()))
}

/// The top-level fields, unquoted and trimmed; a parenthesised list stays one field with
/// its parentheses.
pub fn fields(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut depth) = (false, 0u32);
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                cur.push(c);
            }
            ')' if !quoted => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' if !quoted && depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// A field as a number, if it is one.
pub fn number<T: std::str::FromStr>(fields: &[String], i: usize) -> Option<T> {
    fields.get(i)?.trim().parse().ok()
}

/// The values a test command (`=?`) allows for one parameter: `(0-2)`, `(0,2)`, `(0,1,2)`,
/// `0-3`, `("SM","ME")`. Numbers only; see [`string_list`] for names.
pub fn number_list(field: &str) -> Vec<u32> {
    let inner = field.trim().trim_start_matches('(').trim_end_matches(')');
    let mut out = Vec::new();
    for item in inner.split(',') {
        let item = item.trim();
        match item.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    // A range is a handful of values; a silly one is not expanded.
                    if b >= a && b - a < 256 {
                        out.extend(a..=b);
                    }
                }
            }
            None => out.extend(item.parse::<u32>().ok()),
        }
    }
    out
}

/// The names in a list like `("SM","ME","MT")`.
pub fn string_list(field: &str) -> Vec<String> {
    let inner = field.trim().trim_start_matches('(').trim_end_matches(')');
    fields(inner).into_iter().filter(|s| !s.is_empty()).collect()
}

/// The parenthesised groups of a test answer: `("SM","ME"),("SM"),("SM")` → three fields.
pub fn groups(s: &str) -> Vec<String> {
    // `fields` keeps parentheses, which is what a group is.
    let f = fields(s);
    // Some modems print the three lists without parentheses when each has one entry.
    f.into_iter().filter(|g| !g.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_commas_and_lists() {
        assert_eq!(split_prefix("+CMGL: 3,0,\"a,b\",27"), Some(("+CMGL", "3,0,\"a,b\",27")));
        assert_eq!(fields("3,0,\"a,b\",27"), ["3", "0", "a,b", "27"]);
        assert_eq!(fields("1,,27"), ["1", "", "27"]);
        assert_eq!(fields("(0-2),(0,1)"), ["(0-2)", "(0,1)"]);
        assert_eq!(number_list("(0-2)"), [0, 1, 2]);
        assert_eq!(number_list("(0,2)"), [0, 2]);
        assert_eq!(number_list("(0-1,3)"), [0, 1, 3]);
        assert_eq!(number_list("(0-99999999)"), Vec::<u32>::new());
        assert_eq!(string_list("(\"SM\",\"ME\",\"MT\")"), ["SM", "ME", "MT"]);
        assert_eq!(split_prefix("no colon"), None);
    }
}
