//! Keyword services (Kannel `sms-service`): which service takes an inbound text, and its reply.
//!
//! Matching follows Kannel's smsbox (gw/urltrans.c): services in config order, keyword
//! services and regex services alike; a service fits only if it listens on the link and,
//! unless `catch_all`, the text has as many words after the first as the template has
//! `%s`/`%S` (or at least that many when it also uses `%r` or `%a`). When none fits,
//! the first fallback (`keyword: default`) on the link takes the text.

use std::time::Duration;

use regex::Regex;

use crate::config::{ServiceConfig, compile_keyword_regex};

/// What Kannel answers for an empty body unless `omit-empty` (its `reply-emptymessage`).
pub const EMPTY_REPLY: &str = "<Empty reply from service provider>";

/// Largest response body taken as a reply: far above 255 SMS parts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a get-url/post-url service may take to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// An inbound SMS as a service sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The sender's number (`%p`).
    pub from: String,
    /// Our number that received it (`%P`).
    pub to: String,
    pub text: String,
    /// The backend id (`%i`).
    pub link_id: String,
    /// When it was received, in Unix seconds (`%t`, `%T`).
    pub received_at_unix: i64,
    /// Our id for the message (`%I`), if it has one yet.
    pub message_id: Option<String>,
}

/// The service that took a text, and the text's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    index: usize,
    name: String,
    words: Vec<String>,
    bridge: bool,
    max_messages: u32,
}

impl Match {
    /// The service's name, for logs and as the reply's author in the portal.
    pub fn service_name(&self) -> &str {
        &self.name
    }

    /// The first word of the text, as sent (`%k`).
    pub fn keyword(&self) -> Option<&str> {
        self.words.first().map(String::as_str)
    }

    /// All words of the text, the keyword first.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether the text also goes to Matrix.
    pub fn bridge(&self) -> bool {
        self.bridge
    }

    /// How many SMS parts the reply may take: the core splits it and drops the rest,
    /// as Kannel does with `max-messages`. 0 means no reply at all.
    pub fn sms_parts_allowed(&self) -> usize {
        self.max_messages as usize
    }
}

/// What to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    None,
    /// Split by the core into at most [`Match::sms_parts_allowed`] parts.
    Text(String),
}

#[derive(Debug)]
enum Matcher {
    /// The first word, lower-cased, against the keyword and its aliases, lower-cased.
    Words(Vec<String>),
    Regex(Regex),
    Fallback,
}

#[derive(Debug)]
struct Service {
    config: ServiceConfig,
    matcher: Matcher,
    /// Words the template consumes after the keyword (`%s`, `%S`).
    args: usize,
    /// The template takes any further words (`%r`, `%a`).
    takes_rest: bool,
    /// Any number of words fits.
    catch_all: bool,
}

/// The configured services, compiled.
#[derive(Debug, Default)]
pub struct Services {
    list: Vec<Service>,
}

impl Services {
    /// Compiles the (already validated) services; one whose regex does not compile is
    /// logged and left out rather than stopping the bridge.
    pub fn new(configs: &[ServiceConfig]) -> Services {
        let mut list = Vec::with_capacity(configs.len());
        for c in configs {
            let matcher = if c.is_default() {
                Matcher::Fallback
            } else if let Some(r) = &c.keyword_regex {
                match compile_keyword_regex(r) {
                    Ok(re) => Matcher::Regex(re),
                    Err(e) => {
                        tracing::error!(service = %c.display_name(), "keyword_regex left out: {e}");
                        continue;
                    }
                }
            } else {
                let words = c.keyword.iter().chain(&c.aliases).map(|w| w.to_lowercase()).collect();
                Matcher::Words(words)
            };
            let (args, takes_rest) = c.template().map(count_args).unwrap_or((0, false));
            // POSTs always fit in Kannel; a service with no reply has no words to fill.
            let catch_all = c.catch_all || c.post_url.is_some() || c.template().is_none();
            list.push(Service { config: c.clone(), matcher, args, takes_rest, catch_all });
        }
        Services { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first service on `link_id` that takes `text`, else the first fallback there.
    pub fn find(&self, link_id: &str, text: &str) -> Option<Match> {
        // Kannel drops NULs before matching; some links deliver them from GSM 7-bit '@'.
        let clean: std::borrow::Cow<str> =
            if text.contains('\0') { text.replace('\0', "").into() } else { text.into() };
        let words: Vec<&str> = clean.split_whitespace().collect();
        let first = words.first().map(|w| w.to_lowercase());
        let on_link = |s: &Service| s.config.links.is_empty() || s.config.links.iter().any(|l| l == link_id);
        let fits = |s: &Service| {
            let matched = match &s.matcher {
                Matcher::Words(kw) => first.as_ref().is_some_and(|f| kw.contains(f)),
                Matcher::Regex(re) => re.is_match(&clean),
                Matcher::Fallback => false,
            };
            matched && on_link(s) && s.word_count_fits(words.len())
        };
        let index = self
            .list
            .iter()
            .position(fits)
            .or_else(|| self.list.iter().position(|s| matches!(s.matcher, Matcher::Fallback) && on_link(s)))?;
        let s = &self.list[index];
        Some(Match {
            index,
            name: s.config.display_name(),
            words: words.iter().map(|w| w.to_string()).collect(),
            bridge: s.config.bridge,
            max_messages: s.config.max_messages,
        })
    }

    /// The reply to `incoming`, which `m` (from [`Services::find`]) took.
    ///
    /// A URL is called even with `max_messages: 0` (the application still hears of the
    /// text); only the answer is dropped. `Err` is for logging: Kannel answers nothing
    /// to the sender then either when `max-messages` is 0.
    pub async fn reply(&self, m: &Match, incoming: &Incoming, http: &reqwest::Client) -> Result<Reply, ServiceError> {
        let s = self.list.get(m.index).ok_or_else(|| ServiceError::permanent("the service is no longer configured"))?;
        let c = &s.config;
        let body = if let Some(t) = &c.text {
            expand(t, incoming, m, false)
        } else if let Some(u) = &c.get_url {
            let url = expand(u, incoming, m, true);
            fetch(http.get(&url), "GET", u).await?
        } else if let Some(u) = &c.post_url {
            let url = expand(u, incoming, m, true);
            let text = if c.strip_keyword { strip_first_word(&incoming.text) } else { &incoming.text };
            let req = http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=\"UTF-8\"")
                .header("X-Kannel-From", &incoming.from)
                .header("X-Kannel-To", &incoming.to)
                .header("X-Kannel-Time", kannel_time(incoming.received_at_unix, false))
                .header("X-Kannel-SMSC", &incoming.link_id)
                .body(text.to_string());
            fetch(req, "POST", u).await?
        } else {
            return Ok(Reply::None);
        };
        if c.max_messages == 0 {
            return Ok(Reply::None);
        }
        let body = body.trim();
        Ok(match (body.is_empty(), c.omit_empty) {
            (true, true) => Reply::None,
            (true, false) => Reply::Text(EMPTY_REPLY.into()),
            (false, _) => Reply::Text(body.to_string()),
        })
    }
}

impl Service {
    fn word_count_fits(&self, words: usize) -> bool {
        if self.catch_all {
            return true;
        }
        // An empty text has not even a keyword: only catch-all services take it (as in Kannel).
        let Some(after) = words.checked_sub(1) else { return false };
        after == self.args || (self.takes_rest && after >= self.args)
    }
}

/// Why a service gave no reply; `transient` when asking again later may work (the
/// service was unreachable, slow, or answered 5xx, 408 or 429).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub message: String,
    pub transient: bool,
}

impl ServiceError {
    fn permanent(message: impl Into<String>) -> ServiceError {
        ServiceError { message: message.into(), transient: false }
    }

    fn transient(message: impl Into<String>) -> ServiceError {
        ServiceError { message: message.into(), transient: true }
    }
}

/// Sends a request and reads a text body, capped at [`MAX_BODY_BYTES`].
/// `template` is the configured URL: errors name it, without its query, never the URL
/// called (that holds the sender's number and text).
async fn fetch(req: reqwest::RequestBuilder, method: &str, template: &str) -> Result<String, ServiceError> {
    let shown = template.split(['?', '#']).next().unwrap_or(template);
    let mut resp = req
        .timeout(HTTP_TIMEOUT)
        .send()
        .await
        .map_err(|e| ServiceError::transient(format!("{method} {shown}: {}", error_chain(&e.without_url()))))?;
    let status = resp.status();
    if !status.is_success() {
        let message = format!("{method} {shown}: HTTP {status}");
        let again = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
        return Err(ServiceError { message, transient: again });
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain")
        .to_ascii_lowercase();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.starts_with("text/") {
        return Err(ServiceError::permanent(format!("{method} {shown}: answered {mime}, not text")));
    }
    let too_big = || ServiceError::permanent(format!("{method} {shown}: reply over {MAX_BODY_BYTES} bytes"));
    if resp.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ServiceError::transient(format!("{method} {shown}: {}", error_chain(&e.without_url()))))?
    {
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    let charset = content_type.split(';').find_map(|p| p.trim().strip_prefix("charset=")).map(|c| c.trim_matches('"'));
    let encoding = charset.and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes())).unwrap_or(encoding_rs::UTF_8);
    Ok(encoding.decode(&bytes).0.into_owned())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// The text without its first word and the blanks after it (Kannel's `strip-keyword`).
fn strip_first_word(text: &str) -> &str {
    let t = text.trim_start();
    let end = t.find(char::is_whitespace).unwrap_or(t.len());
    t[end..].trim_start()
}

/// Counts `%s`/`%S` in a template and whether it has `%r` or `%a`.
fn count_args(template: &str) -> (usize, bool) {
    let (mut args, mut rest) = (0, false);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('s' | 'S') => args += 1,
                Some('r' | 'a') => rest = true,
                _ => {}
            }
        }
    }
    (args, rest)
}

/// Fills Kannel's escapes in a `text` or URL template.
///
/// In URLs (`for_url`) values are encoded as Kannel's `octstr_url_encode` does: RFC 2396
/// unreserved characters stay, a space becomes `+`, all else is `%XX`; words are joined
/// with `+`. In texts values are inserted as they are and words joined with a space.
/// `%S` is never encoded (Kannel's rule, for `get-url = "http://%S"`).
/// Escapes for data an inbound SMS here does not carry (`%c %C %d %A %B %D %f %F %m %M
/// %o %O %R %u`) give nothing; unknown ones stay as written, as in Kannel.
pub fn expand(template: &str, incoming: &Incoming, m: &Match, for_url: bool) -> String {
    let enc = |s: &str| if for_url { url_encode(s) } else { s.to_string() };
    let join =
        |words: &[String]| words.iter().map(|w| enc(w)).collect::<Vec<_>>().join(if for_url { "+" } else { " " });
    let mut next = 1; // the next word for %s: the keyword is word 0
    crate::gateway::kannel::escapes::fill(template, |e| {
        Some(match e {
            'k' => m.words.first().map(|w| enc(w)).unwrap_or_default(),
            's' | 'S' => match m.words.get(next) {
                Some(w) => {
                    next += 1;
                    if e == 's' { enc(w) } else { w.replace('*', "~") }
                }
                None => String::new(),
            },
            'r' => join(m.words.get(next..).unwrap_or_default()),
            'a' => join(&m.words),
            'b' | 'A' => enc(&incoming.text),
            'p' => enc(&incoming.from),
            'P' => enc(&incoming.to),
            'q' => enc(&plus_for_00(&incoming.from)),
            'Q' => enc(&plus_for_00(&incoming.to)),
            't' => kannel_time(incoming.received_at_unix, for_url),
            'T' => incoming.received_at_unix.to_string(),
            'i' => enc(&incoming.link_id),
            'I' => incoming.message_id.as_deref().map(enc).unwrap_or_default(),
            'n' => enc(&m.name),
            'c' | 'C' | 'd' | 'B' | 'D' | 'f' | 'F' | 'm' | 'M' | 'o' | 'O' | 'R' | 'u' => String::new(),
            _ => return None,
        })
    })
}

/// `%q`/`%Q`: a leading international `00` written as `+`.
fn plus_for_00(number: &str) -> String {
    match number.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => number.to_string(),
    }
}

/// `%t`: UTC, `YYYY-MM-DD HH:MM:SS`; in URLs the space is `+`, as Kannel writes it.
fn kannel_time(unix: i64, for_url: bool) -> String {
    let t = jiff::Timestamp::from_second(unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let s = t.strftime("%Y-%m-%d %H:%M:%S").to_string();
    if for_url { s.replace(' ', "+") } else { s }
}

/// Kannel's URL encoding, as for dlr-url.
fn url_encode(s: &str) -> String {
    crate::gateway::kannel::url_encode(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::Query;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};

    use super::*;

    /// 2023-11-14 22:13:20 UTC.
    const WHEN: i64 = 1_700_000_000;

    fn services(yaml: &str) -> Services {
        let configs: Vec<ServiceConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        Services::new(&configs)
    }

    fn incoming(text: &str) -> Incoming {
        Incoming {
            from: "+15550002222".into(),
            to: "+15550001111".into(),
            text: text.into(),
            link_id: "test1".into(),
            received_at_unix: WHEN,
            message_id: Some("m-1".into()),
        }
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn answer(s: &Services, text: &str) -> Option<Result<Reply, String>> {
        let m = s.find("test1", text)?;
        Some(s.reply(&m, &incoming(text), &client()).await.map_err(|e| e.to_string()))
    }

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    const TUTORIAL: &str = "- keyword-regex: \"^(?i)(yes|no)$\"\n  text: \"Message received (%t)\"\n- keyword: default\n  max-messages: 0\n";

    #[tokio::test]
    async fn tutorial_services() {
        let s = services(TUTORIAL);
        let received = Reply::Text("Message received (2023-11-14 22:13:20)".into());
        for yes in ["YES", "no", "Yes"] {
            let m = s.find("test1", yes).unwrap();
            assert_eq!(m.service_name(), "^(?i)(yes|no)$");
            assert_eq!(s.reply(&m, &incoming(yes), &client()).await, Ok(received.clone()), "{yes}");
        }
        for other in ["yes please", "maybe", "", "  "] {
            let m = s.find("test1", other).unwrap();
            assert_eq!(m.service_name(), "default", "{other:?}");
            assert_eq!(m.sms_parts_allowed(), 0);
            assert!(m.bridge());
            assert_eq!(s.reply(&m, &incoming(other), &client()).await, Ok(Reply::None));
        }
    }

    #[tokio::test]
    async fn keyword_and_aliases_ignore_case() {
        let s = services("- keyword: help\n  aliases: [Info, \"?\"]\n  text: \"Send STOP to stop\"\n");
        for t in ["help", "HELP", " Help ", "info", "INFO", "?"] {
            assert_eq!(answer(&s, t).await, Some(Ok(Reply::Text("Send STOP to stop".into()))), "{t:?}");
        }
        // A keyword is a whole word, and without %s or catch_all no further words fit.
        for t in ["helpme", "help me", "please help"] {
            assert!(s.find("test1", t).is_none(), "{t:?}");
        }
        let s = services("- keyword: help\n  catch_all: true\n  text: hi\n");
        assert_eq!(s.find("test1", "help me please").unwrap().keyword(), Some("help"));
    }

    #[test]
    fn word_counts_choose_the_service() {
        let s = services(
            "- keyword: w\n  text: \"one %s\"\n- keyword: w\n  text: \"two %s %s\"\n- keyword: w\n  text: \"many %s %r\"\n",
        );
        let name = |t: &str| s.find("test1", t).map(|m| m.index);
        assert_eq!((name("w"), name("w a"), name("w a b"), name("w a b c")), (None, Some(0), Some(1), Some(2)));
    }

    #[test]
    fn escapes_in_text() {
        let s = services("- keyword: go\n  catch_all: true\n  text: x\n");
        let msg = "Go  a*b c   d";
        let m = s.find("test1", msg).unwrap();
        let t = "%k|%S|%s|%r|%a|%b|%p|%P|%q|%t|%T|%i|%I|%n|%%|%x|%d%F|%";
        assert_eq!(
            expand(t, &incoming(msg), &m, false),
            "Go|a~b|c|d|Go a*b c d|Go  a*b c   d|+15550002222|+15550001111|+15550002222|2023-11-14 22:13:20|1700000000|test1|m-1|go|%|%x||%"
        );
        // %s past the last word gives nothing; %r then is empty too.
        assert_eq!(
            expand("[%s][%s][%s][%r]", &incoming("go a"), &s.find("test1", "go a").unwrap(), false),
            "[a][][][]"
        );
        let mut i = incoming("go");
        i.from = "0044123".into();
        assert_eq!(expand("%q %p", &i, &s.find("test1", "go").unwrap(), false), "+44123 0044123");
    }

    #[test]
    fn escapes_in_urls_are_encoded() {
        let s = services("- keyword: find\n  get_url: \"http://h/?q=%r\"\n");
        let msg = "FIND fish & chips/ü*";
        let m = s.find("test1", msg).unwrap();
        let url = "http://h/?k=%k&q=%r&a=%a&from=%p&to=%P&t=%t&T=%T&b=%b";
        assert_eq!(
            expand(url, &incoming(msg), &m, true),
            "http://h/?k=FIND&q=fish+%26+chips%2F%C3%BC*&a=FIND+fish+%26+chips%2F%C3%BC*&from=%2B15550002222&to=%2B15550001111&t=2023-11-14+22:13:20&T=1700000000&b=FIND+fish+%26+chips%2F%C3%BC*"
        );
        // %s encodes; %S keeps the word as typed, '*' read as '~' (Kannel's `http://%S`).
        let m = services("- keyword: www\n  get_url: \"http://%S\"\n").find("test1", "www a.example/x*y?z=1").unwrap();
        assert_eq!(expand("http://%S", &incoming("www a.example/x*y?z=1"), &m, true), "http://a.example/x~y?z=1");
        let m = services("- keyword: www\n  get_url: \"http://h/?u=%s\"\n").find("test1", "www a&b*").unwrap();
        assert_eq!(expand("http://h/?u=%s", &incoming("www a&b*"), &m, true), "http://h/?u=a%26b*");
    }

    #[tokio::test]
    async fn get_url_body_is_the_reply() {
        let app = Router::new().route(
            "/w",
            get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                format!("  Weather in {} for {}: sunny\n", q["city"], q["from"])
            }),
        );
        let base = serve(app).await;
        let s = services(&format!("- keyword: weather\n  get-url: \"{base}/w?city=%s&from=%p\"\n"));
        assert_eq!(
            answer(&s, "weather São+Paulo").await,
            Some(Ok(Reply::Text("Weather in São+Paulo for +15550002222: sunny".into())))
        );
    }

    #[tokio::test]
    async fn post_url_gets_the_text() {
        let app = Router::new().route(
            "/p",
            post(|headers: HeaderMap, body: String| async move {
                let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                (
                    [("content-type", "text/plain; charset=utf-8")],
                    format!(
                        "{}|{}|{}|{}|{}|{body}",
                        h("content-type"),
                        h("x-kannel-from"),
                        h("x-kannel-to"),
                        h("x-kannel-time"),
                        h("x-kannel-smsc")
                    ),
                )
            }),
        );
        let base = serve(app).await;
        let s = services(&format!("- keyword: order\n  post-url: \"{base}/p\"\n  max-messages: 3\n"));
        assert_eq!(
            answer(&s, "ORDER 2 pizzas, große").await,
            Some(Ok(Reply::Text(
                "text/plain; charset=\"UTF-8\"|+15550002222|+15550001111|2023-11-14 22:13:20|test1|ORDER 2 pizzas, große".into()
            )))
        );
        assert_eq!(s.find("test1", "order").unwrap().sms_parts_allowed(), 3);
        let s = services(&format!("- keyword: order\n  post-url: \"{base}/p\"\n  strip-keyword: true\n"));
        let Some(Ok(Reply::Text(t))) = answer(&s, "order  2 pizzas").await else { panic!() };
        assert!(t.ends_with("|test1|2 pizzas"), "{t}");
    }

    #[tokio::test]
    async fn empty_bodies_errors_and_silent_services() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let app = Router::new()
            .route("/empty", get(|| async { "\n" }))
            .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
            .route("/big", get(|| async { "x".repeat(MAX_BODY_BYTES + 1) }))
            .route("/json", get(|| async { axum::Json(1) }))
            .route(
                "/count",
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    "counted"
                }),
            );
        let base = serve(app).await;
        let s = services(&format!(
            "- keyword: a\n  get_url: \"{base}/empty\"\n  omit_empty: true\n- keyword: b\n  get_url: \"{base}/empty\"\n- keyword: c\n  get_url: \"{base}/fail?secret=%p\"\n- keyword: d\n  get_url: \"{base}/big\"\n- keyword: e\n  get_url: \"{base}/json\"\n- keyword: f\n  get_url: \"{base}/count\"\n  max_messages: 0\n- keyword: g\n  bridge: false\n"
        ));
        assert_eq!(answer(&s, "a").await, Some(Ok(Reply::None)));
        assert_eq!(answer(&s, "b").await, Some(Ok(Reply::Text(EMPTY_REPLY.into()))));
        assert_eq!(answer(&s, "c").await, Some(Err(format!("GET {base}/fail: HTTP 500 Internal Server Error"))));
        assert_eq!(answer(&s, "d").await, Some(Err(format!("GET {base}/big: reply over 65536 bytes"))));
        assert_eq!(answer(&s, "e").await, Some(Err(format!("GET {base}/json: answered application/json, not text"))));
        // A 5xx may pass: worth asking again. A reply that is not text will not change.
        let transient = |text: &'static str| {
            let (s, m) = (&s, s.find("test1", text).unwrap());
            async move { s.reply(&m, &incoming(text), &client()).await.unwrap_err().transient }
        };
        assert_eq!((transient("c").await, transient("d").await, transient("e").await), (true, false, false));
        // max_messages: 0 still tells the application, and sends nothing back.
        assert_eq!(answer(&s, "f").await, Some(Ok(Reply::None)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // No reply configured: swallowed (a no-reply service takes any number of words).
        let m = s.find("test1", "g stop all").unwrap();
        assert!(!m.bridge());
        assert_eq!(s.reply(&m, &incoming("g stop all"), &client()).await, Ok(Reply::None));
        assert!(s.find("test1", "a").unwrap().bridge());
        let down = services("- keyword: x\n  get_url: \"http://127.0.0.1:9/\"\n");
        let Some(Err(e)) = answer(&down, "x").await else { panic!() };
        assert!(e.starts_with("GET http://127.0.0.1:9/: "), "{e}");
    }

    #[test]
    fn link_scoped_services() {
        let s = services(
            "- keyword: x\n  links: [l1]\n  text: A\n- keyword: x\n  text: B\n- keyword: default\n  links: \"l2;l3\"\n  text: D\n",
        );
        let on = |link: &str, t: &str| s.find(link, t).map(|m| m.index);
        assert_eq!((on("l1", "x"), on("l2", "x"), on("l9", "X")), (Some(0), Some(1), Some(1)));
        assert_eq!((on("l1", "zzz"), on("l3", "zzz")), (None, Some(2)));
    }

    #[test]
    fn fallback_and_order() {
        // A fallback listed first still waits for every keyword; a regex earlier in the list wins.
        let s = services(
            "- catch_all: true\n  text: F\n- keyword_regex: \"^\\\\d+$\"\n  text: N\n- keyword: \"42\"\n  text: K\n",
        );
        let name = |t: &str| s.find("test1", t).map(|m| m.index);
        assert_eq!((name("42"), name("7"), name("hello")), (Some(1), Some(1), Some(0)));
        assert!(Services::new(&[]).find("test1", "x").is_none());
        assert!(Services::default().is_empty());
    }
}
