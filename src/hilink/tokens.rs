//! The request verification tokens: a queue filled at start (from the web UI's page or one
//! of two API calls) and by the headers of each answer; every POST takes one.

use std::collections::VecDeque;

use super::errors::{Error, Result};
use super::xml::response;

/// A router hands out a handful at a time; more means a confused answer.
const MAX_TOKENS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    queue: VecDeque<String>,
    /// The last token, lent out again because no other was held.
    lent: Option<String>,
}

impl Tokens {
    pub fn new() -> Tokens {
        Tokens::default()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn push(&mut self, token: &str) -> bool {
        let token = token.trim();
        if token.is_empty() || token.chars().any(|c| c.is_control()) {
            return false;
        }
        if self.queue.len() >= MAX_TOKENS {
            self.queue.pop_front();
        }
        self.queue.push_back(token.to_string());
        true
    }

    /// Every `<meta name="csrf_token" content="…">` of the web UI's page (`GET /`), in page
    /// order; how many were found.
    pub fn bootstrap_from_html(&mut self, html: &str) -> usize {
        meta_csrf_tokens(html).iter().filter(|t| self.push(t)).count()
    }

    /// `GET /api/webserver/token`: `<response><token>…</token></response>`.
    pub fn bootstrap_from_token(&mut self, answer: &[u8]) -> Result<()> {
        let r = response(answer)?;
        let token = r.text_of("token").ok_or(Error::Missing { element: "token", parent: "response".into() })?;
        if !self.push(token) {
            return Err(Error::Bad { element: "token", value: token.into(), why: "empty or not text" });
        }
        Ok(())
    }

    /// `GET /api/webserver/SesTokInfo`: keeps `TokInfo` and returns the cookie
    /// (`SessionID=…`) that `SesInfo` holds.
    pub fn bootstrap_from_ses_tok_info(&mut self, answer: &[u8]) -> Result<String> {
        let r = response(answer)?;
        let missing = |element| Error::Missing { element, parent: "response".into() };
        let cookie = r.text_of("SesInfo").ok_or(missing("SesInfo"))?.trim();
        if !cookie.starts_with("SessionID=") || cookie.chars().any(|c| c.is_control() || c == ';') {
            return Err(Error::Bad { element: "SesInfo", value: cookie.into(), why: "not SessionID=…" });
        }
        let token = r.text_of("TokInfo").ok_or(missing("TokInfo"))?;
        if !self.push(token) {
            return Err(Error::Bad { element: "TokInfo", value: token.into(), why: "empty or not text" });
        }
        Ok(cookie.to_string())
    }

    /// The token for the next POST (its `__RequestVerificationToken` header). The last one
    /// is lent rather than taken, as huawei-lte-api does: some firmwares answer POSTs with
    /// no new token and accept the old one again. When an answer does bring a new one, the
    /// lent one is dropped.
    pub fn take(&mut self) -> Option<String> {
        if self.queue.len() == 1 {
            self.lent = self.queue.front().cloned();
            return self.lent.clone();
        }
        self.lent = None;
        self.queue.pop_front()
    }

    /// The token a GET sends: only when exactly one is held, as the web UI does.
    pub fn for_get(&self) -> Option<&str> {
        match self.queue.len() {
            1 => self.queue.front().map(String::as_str),
            _ => None,
        }
    }

    /// Tokens an answer's headers hand back (`__RequestVerificationTokenone`, `…two`, or
    /// `__RequestVerificationToken`, any letter case), in header order; how many.
    pub fn push_from_headers<'a>(&mut self, headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> usize {
        let mut n = 0;
        for (name, value) in headers {
            let is_token =
                ["__requestverificationtoken", "__requestverificationtokenone", "__requestverificationtokentwo"]
                    .iter()
                    .any(|t| name.eq_ignore_ascii_case(t));
            if is_token && self.push(value) {
                n += 1;
            }
        }
        if n > 0
            && let Some(lent) = self.lent.take()
            && self.queue.front() == Some(&lent)
        {
            self.queue.pop_front();
        }
        n
    }

    /// After a login the old tokens are void; the login answer's headers bring new ones.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.lent = None;
    }
}

/// The `content` of each `<meta>` tag whose `name` is `csrf_token`. A tolerant scan, not an
/// HTML parser: attributes in any order, quoted either way, names in any letter case.
fn meta_csrf_tokens(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<meta").map(|i| from + i + "<meta".len()) {
        let end = lower[start..].find('>').map_or(html.len(), |i| start + i);
        let attrs = attributes(&html[start..end]);
        from = end;
        let value = |key: &str| attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());
        if value("name").is_some_and(|n| n.eq_ignore_ascii_case("csrf_token"))
            && let Some(content) = value("content")
        {
            found.push(content.to_string());
        }
    }
    found
}

/// `key="value"`, `key='value'`, `key=value` and bare `key` pairs of a tag's inside.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '/').unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let mut value = "";
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, r) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(q).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let e = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..e], &after[e..])
                }
            };
            value = v;
            rest = r;
        }
        if !key.is_empty() {
            out.push((key.to_string(), value.to_string()));
        }
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hilink::errors::ErrorClass;

    #[test]
    fn html_meta_tags_in_order() {
        let html = r#"<!DOCTYPE html><html><head>
            <meta http-equiv="Content-Type" content="text/html">
            <meta name="csrf_token" content="aaa111"/>
            <META CONTENT='bbb222' NAME=CSRF_TOKEN>
            <meta name="csrf_token" content="">
            <meta name=csrf_token content=ccc333 />
            </head></html>"#;
        let mut t = Tokens::new();
        assert_eq!(t.bootstrap_from_html(html), 3);
        assert_eq!(t.for_get(), None);
        assert_eq!(
            [t.take(), t.take(), t.take(), t.take()],
            // The last one is lent again while no answer brings another.
            [Some("aaa111".into()), Some("bbb222".into()), Some("ccc333".into()), Some("ccc333".into())]
        );
        assert_eq!(Tokens::new().bootstrap_from_html("<meta name=\"csrf_token\" content=\"x"), 1);
        assert_eq!(Tokens::new().bootstrap_from_html("no tags <meta"), 0);
    }

    #[test]
    fn token_answer() {
        let mut t = Tokens::new();
        t.bootstrap_from_token(b"<?xml version=\"1.0\"?><response><token>Zx9</token></response>").unwrap();
        assert_eq!(t.for_get(), Some("Zx9"));
        let e = t.bootstrap_from_token(b"<response></response>").unwrap_err();
        assert_eq!(e.to_string(), "<token> is missing in <response>");
        match t.bootstrap_from_token(b"<error><code>100002</code><message/></error>") {
            Err(Error::Router(r)) => assert_eq!((r.code, r.class()), (100002, ErrorClass::Other)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ses_tok_info() {
        let mut t = Tokens::new();
        let cookie = t
            .bootstrap_from_ses_tok_info(
                b"<response><SesInfo>SessionID=abc</SesInfo><TokInfo>tok1</TokInfo></response>",
            )
            .unwrap();
        assert_eq!(cookie, "SessionID=abc");
        assert_eq!(t.take().as_deref(), Some("tok1"));
        let e = t.bootstrap_from_ses_tok_info(b"<response><SesInfo>x</SesInfo><TokInfo>t</TokInfo></response>");
        assert!(matches!(e, Err(Error::Bad { element: "SesInfo", .. })));
        let e = t.bootstrap_from_ses_tok_info(b"<response><SesInfo>SessionID=1</SesInfo></response>");
        assert!(matches!(e, Err(Error::Missing { element: "TokInfo", .. })));
    }

    #[test]
    fn headers_any_case_fifo_and_clear() {
        let mut t = Tokens::new();
        let n = t.push_from_headers([
            ("Content-Type", "text/xml"),
            ("__RequestVerificationTokenone", "one"),
            ("__requestverificationtokentwo", "two"),
            ("__REQUESTVERIFICATIONTOKEN", "three"),
            ("__RequestVerificationToken", "  "),
        ]);
        assert_eq!(n, 3);
        assert_eq!(t.take().as_deref(), Some("one"));
        t.push_from_headers([("__RequestVerificationToken", "four")]);
        assert_eq!(t.len(), 3);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.take(), None);
    }

    #[test]
    fn the_last_token_is_lent_until_an_answer_brings_another() {
        let mut t = Tokens::new();
        t.push_from_headers([("__RequestVerificationTokenone", "a"), ("__RequestVerificationTokentwo", "b")]);
        assert_eq!(t.take().as_deref(), Some("a"));
        // Only "b" left: lent, and lent again while answers bring nothing.
        assert_eq!(t.take().as_deref(), Some("b"));
        assert_eq!(t.push_from_headers([("Content-Type", "text/xml")]), 0);
        assert_eq!(t.take().as_deref(), Some("b"));
        // An answer with a new token: "b" is spent, "c" is next.
        t.push_from_headers([("__RequestVerificationToken", "c")]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.take().as_deref(), Some("c"));
    }

    #[test]
    fn queue_is_bounded() {
        let mut t = Tokens::new();
        for i in 0..100 {
            t.push_from_headers([("__RequestVerificationToken", i.to_string().as_str())]);
        }
        assert_eq!(t.len(), MAX_TOKENS);
        assert_eq!(t.take().as_deref(), Some("36"));
    }
}
