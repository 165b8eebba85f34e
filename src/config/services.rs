//! `services:` — keyword auto-replies, Kannel's `group = sms-service` in YAML.
//!
//! Kannel's hyphenated keys (`keyword-regex`, `get-url`, `max-messages`, …) are accepted
//! as aliases so a `kannel.conf` group converts line by line.

use serde::{Deserialize, Deserializer};

use super::Problems;

/// The keyword Kannel reserves for the fallback service.
pub const DEFAULT_KEYWORD: &str = "default";

/// Most SMS parts one reply may take; the same ceiling as `sms.max_parts`.
const MAX_MESSAGES_LIMIT: u32 = 255;

/// Compiled size cap for `keyword_regex`: ample for keyword patterns, bounded memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One service: which inbound texts it takes and what it answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Shown in logs and the portal as the reply's author; defaults to the keyword or regex.
    pub name: Option<String>,
    /// First word of the text, compared case-insensitively. `default` is the fallback.
    pub keyword: Option<String>,
    /// Matched against the whole text; `(?i)` makes it case-insensitive.
    #[serde(alias = "keyword-regex")]
    pub keyword_regex: Option<String>,
    /// More first words for `keyword`: a list, or Kannel's `a;b;c`.
    #[serde(default, deserialize_with = "list_or_semicolons")]
    pub aliases: Vec<String>,
    /// A fixed reply, with Kannel escapes (`%s`, `%t`, …).
    pub text: Option<String>,
    /// The body of a GET to this URL is the reply.
    #[serde(alias = "get-url", alias = "url")]
    pub get_url: Option<String>,
    /// The text is POSTed (text/plain) to this URL; the response body is the reply.
    #[serde(alias = "post-url")]
    pub post_url: Option<String>,
    /// An empty body sends nothing instead of Kannel's "<Empty reply from service provider>".
    #[serde(default, alias = "omit-empty")]
    pub omit_empty: bool,
    /// Most SMS parts a reply may take; 0 sends none (a URL is still called).
    #[serde(default = "one", alias = "max-messages")]
    pub max_messages: u32,
    /// Take the text whatever its number of words (else: as many as the template's `%s`).
    #[serde(default, alias = "catch-all")]
    pub catch_all: bool,
    /// For `post_url`: POST the text without its first word.
    #[serde(default, alias = "strip-keyword")]
    pub strip_keyword: bool,
    /// Whether the text also goes to Matrix.
    #[serde(default = "yes")]
    pub bridge: bool,
    /// Backend ids this service listens on; empty means all. Kannel's `accepted-smsc`.
    #[serde(default, alias = "accepted-smsc", deserialize_with = "list_or_semicolons")]
    pub links: Vec<String>,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// A YAML list, or one string split at `;` as Kannel writes lists.
fn list_or_semicolons<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    Ok(match List::deserialize(d)? {
        List::One(s) => s.split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        List::Many(v) => v,
    })
}

impl ServiceConfig {
    /// The fallback: `keyword: default`, or only `catch_all: true` with no keyword at all.
    pub fn is_default(&self) -> bool {
        match (&self.keyword, &self.keyword_regex) {
            (Some(k), None) => k.eq_ignore_ascii_case(DEFAULT_KEYWORD),
            (None, None) => self.catch_all,
            _ => false,
        }
    }

    /// The reply template (text or URL), if any.
    pub fn template(&self) -> Option<&str> {
        self.text.as_deref().or(self.get_url.as_deref()).or(self.post_url.as_deref())
    }

    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match (&self.keyword, &self.keyword_regex) {
            (Some(k), _) => k.clone(),
            (None, Some(r)) => r.clone(),
            (None, None) => DEFAULT_KEYWORD.into(),
        }
    }
}

/// Compiles a `keyword_regex` the way matching uses it; the error is one line.
pub fn compile_keyword_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| match e {
        // The parse error is a multi-line drawing; its last "error: …" line says what is wrong.
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .map(String::from)
            .unwrap_or_else(|| s.replace('\n', " ")),
        other => other.to_string(),
    })
}

/// Checks every service; `backend_ids` are the ids `links` may name.
pub(super) fn validate_all(services: &[ServiceConfig], backend_ids: &[&str], p: &mut Problems) {
    for (i, s) in services.iter().enumerate() {
        let key = |k: &str| format!("services[{i}].{k}");
        match (&s.keyword, &s.keyword_regex) {
            (Some(_), Some(_)) => p.add(key("keyword_regex"), "use either keyword or keyword_regex, not both"),
            (None, None) if !s.catch_all => {
                p.add(key("keyword"), "set keyword, keyword_regex, or catch_all: true for a fallback")
            }
            (Some(k), None) if k.is_empty() || k.chars().any(char::is_whitespace) => {
                p.add(key("keyword"), format!("must be one word: {k:?}"))
            }
            (None, Some(r)) => {
                if let Err(e) = compile_keyword_regex(r) {
                    p.add(key("keyword_regex"), format!("not a valid regular expression {r:?}: {e}"));
                }
            }
            _ => {}
        }
        if !s.aliases.is_empty() && (s.keyword.is_none() || s.is_default()) {
            p.add(key("aliases"), "applies only with a keyword other than default");
        }
        for (j, a) in s.aliases.iter().enumerate() {
            if a.is_empty() || a.chars().any(char::is_whitespace) {
                p.add(key(&format!("aliases[{j}]")), format!("must be one word: {a:?}"));
            }
        }
        let replies = [("text", &s.text), ("get_url", &s.get_url), ("post_url", &s.post_url)];
        let given: Vec<&str> = replies.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| *k).collect();
        if given.len() > 1 {
            p.add(key(given[1]), format!("give at most one of text, get_url, post_url (found {})", given.join(", ")));
        }
        for (k, url) in [("get_url", &s.get_url), ("post_url", &s.post_url)] {
            if let Some(u) = url
                && !is_http_template(u)
            {
                p.add(key(k), format!("not an http:// or https:// URL: {u:?}"));
            }
        }
        if s.strip_keyword && s.post_url.is_none() {
            p.add(key("strip_keyword"), "applies only with post_url");
        }
        if s.max_messages > MAX_MESSAGES_LIMIT {
            p.add(key("max_messages"), format!("must be between 0 and {MAX_MESSAGES_LIMIT}"));
        }
        for (j, l) in s.links.iter().enumerate() {
            if !backend_ids.contains(&l.as_str()) {
                p.add(
                    key(&format!("links[{j}]")),
                    format!("no backend has id {l:?} (known: {})", backend_ids.join(", ")),
                );
            }
        }
    }
}

/// Whether a URL template is http(s) with a host, once its escapes are filled with a sample.
fn is_http_template(template: &str) -> bool {
    // `%S` may be the whole host (Kannel's `http://%S`), so the sample must be a host name.
    let mut sample = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('%', Some(e)) if e.is_ascii_alphabetic() => {
                chars.next();
                sample.push_str("example.org");
            }
            _ => sample.push(c),
        }
    }
    reqwest::Url::parse(&sample).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::MINIMAL;
    use super::super::{Config, Purpose};

    fn problems(services: &str) -> Vec<String> {
        match Config::parse(&format!("{MINIMAL}services:\n{services}"), Purpose::Run) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_and_kannel_spellings() {
        let c = Config::parse(MINIMAL, Purpose::Run).unwrap();
        assert!(c.services.is_empty());
        let text = format!(
            "{MINIMAL}services:\n  - keyword-regex: \"^(?i)(yes|no)$\"\n    text: \"Message received (%t)\"\n  - keyword: default\n    max-messages: 0\n  - keyword: help\n    aliases: \"info;?\"\n    get-url: \"http://127.0.0.1/h?q=%r\"\n    omit-empty: true\n    catch-all: true\n    accepted-smsc: test1\n    bridge: false\n"
        );
        let c = Config::parse(&text, Purpose::Run).unwrap();
        let s = &c.services;
        assert_eq!(s[0].keyword_regex.as_deref(), Some("^(?i)(yes|no)$"));
        assert_eq!((s[0].max_messages, s[0].bridge, s[0].catch_all), (1, true, false));
        assert!(s[1].is_default() && s[1].max_messages == 0 && s[1].template().is_none());
        assert_eq!(s[2].aliases, ["info", "?"]);
        assert_eq!(s[2].links, ["test1"]);
        assert!(s[2].omit_empty && s[2].catch_all && !s[2].bridge);
        assert_eq!(s[2].get_url.as_deref(), Some("http://127.0.0.1/h?q=%r"));
    }

    #[test]
    fn bad_services_are_named() {
        let p = problems("  - keyword_regex: \"^(yes\"\n    text: x\n");
        assert_eq!(p, [r#"services[0].keyword_regex: not a valid regular expression "^(yes": unclosed group"#]);
        let p = problems("  - keyword: a\n    keyword_regex: b\n");
        assert_eq!(p, ["services[0].keyword_regex: use either keyword or keyword_regex, not both"]);
        let p = problems("  - text: hello\n");
        assert_eq!(p, ["services[0].keyword: set keyword, keyword_regex, or catch_all: true for a fallback"]);
        let p = problems(
            "  - keyword: two words\n    aliases: [ok, \"no way\"]\n    text: x\n    get_url: ftp://example.org/\n    max_messages: 300\n    links: [test1, nosuch]\n",
        );
        assert_eq!(
            p,
            [
                r#"services[0].keyword: must be one word: "two words""#,
                r#"services[0].aliases[1]: must be one word: "no way""#,
                "services[0].get_url: give at most one of text, get_url, post_url (found text, get_url)",
                r#"services[0].get_url: not an http:// or https:// URL: "ftp://example.org/""#,
                "services[0].max_messages: must be between 0 and 255",
                r#"services[0].links[1]: no backend has id "nosuch" (known: test1)"#,
            ]
        );
        let p = problems("  - keyword: default\n    aliases: [x]\n  - keyword: a\n    strip_keyword: true\n");
        assert_eq!(
            p,
            [
                "services[0].aliases: applies only with a keyword other than default",
                "services[1].strip_keyword: applies only with post_url",
            ]
        );
        let p = problems("  - keyword: a\n    post_url: \"%S\"\n");
        assert_eq!(p, [r#"services[0].post_url: not an http:// or https:// URL: "%S""#]);
        assert!(problems("  - keyword: www\n    get_url: \"http://%S\"\n").is_empty());
        let p = problems("  - keyword: a\n    max_mesages: 2\n");
        assert!(p[0].starts_with("services[0].max_mesages: unknown field `max_mesages`"), "{p:?}");
    }
}
