//! The `%x` escapes of Kannel's URL and text templates (`urltrans_fill_escape_codes`):
//! the walk shared by dlr-url and keyword services; each fills in its own values.

/// `template` with each `%x` replaced by `value(x)`: None leaves it as written (an escape
/// Kannel does not know), `%%` is `%`, and a final lone `%` stays.
pub fn fill(template: &str, mut value: impl FnMut(char) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('%');
            break;
        };
        match e {
            '%' => out.push('%'),
            e => match value(e) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('%');
                    out.push(e);
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn walk() {
        let f = |t: &str| super::fill(t, |e| (e == 'a').then(|| "A".to_string()));
        assert_eq!(f("x%ay%%z%q%"), "xAy%z%q%");
        assert_eq!(f(""), "");
    }
}
