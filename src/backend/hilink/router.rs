//! The router's web API as a session: the SessionID cookie, the token queue, login and
//! logout, and one call at a time with the retries the error codes ask for.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderName, HeaderValue};

use crate::hilink::errors::Error as CodecError;
use crate::hilink::login::{LoginState, login_request, logout_request};
use crate::hilink::xml::{Element, response};
use crate::hilink::{ErrorClass, RouterError, Tokens, scram};

const FORM: &str = "application/x-www-form-urlencoded; charset=UTF-8";
const REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");
const VERIFICATION_TOKEN: HeaderName = HeaderName::from_static("__requestverificationtoken");

/// Why a call did not work, sorted by what the link does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Trouble {
    /// No answer (refused, timed out, not HTTP): reconnect with backoff.
    Unreachable(String),
    /// Wrong user name or password: retried slowly.
    BadCredentials(String),
    /// The router refuses logins for a while.
    LockedOut(String),
    /// The router has no session left for us: back off.
    TooManySessions(String),
    /// Busy (100004, 113018): try again soon.
    Busy(RouterError),
    /// Any other router error, or an answer we cannot read.
    Failed(String),
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::Unreachable(s)
            | Trouble::BadCredentials(s)
            | Trouble::LockedOut(s)
            | Trouble::TooManySessions(s)
            | Trouble::Failed(s) => f.write_str(s),
            Trouble::Busy(e) => write!(f, "{e}"),
        }
    }
}

pub(super) struct Router {
    http: reqwest::Client,
    base: Url,
    /// `base` joined with each path called so far.
    urls: HashMap<String, Url>,
    username: String,
    password: Option<String>,
    tokens: Tokens,
    cookie: Option<String>,
    /// A session with tokens (and a login, when the router wants one) is established.
    ready: bool,
    /// We logged in (so we log out on shutdown).
    logged_in: bool,
    /// The router has no challenge login: use `/api/user/login` straight away.
    password_login: bool,
    /// The last POST failed after it may have reached the router (a timeout, a reset).
    maybe_delivered: bool,
    /// The link is stopping: no new session.
    closed: bool,
}

impl Router {
    pub(super) fn new(
        url: &str,
        username: &str,
        password: Option<String>,
        timeout: Duration,
    ) -> Result<Router, String> {
        let base = Url::parse(url).map_err(|e| format!("router url {url:?}: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // The router serves one LAN client politely; a pool of one keeps it that way.
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Router {
            http,
            base,
            urls: HashMap::new(),
            username: username.into(),
            password,
            tokens: Tokens::new(),
            cookie: None,
            ready: false,
            logged_in: false,
            password_login: false,
            maybe_delivered: false,
            closed: false,
        })
    }

    /// The address of `path`, joined once per path.
    fn url(&mut self, path: &str) -> Url {
        if let Some(u) = self.urls.get(path) {
            return u.clone();
        }
        let u = self.base.join(path).unwrap_or_else(|_| self.base.clone());
        self.urls.insert(path.to_string(), u.clone());
        u
    }

    /// One HTTP exchange. `token` goes in the verification header; `fresh` voids the old
    /// tokens before the answer's are kept (a login hands out a new set).
    async fn exchange(
        &mut self,
        path: &str,
        body: Option<Vec<u8>>,
        token: Option<String>,
        fresh: bool,
    ) -> Result<Vec<u8>, Trouble> {
        let url = self.url(path);
        let posting = body.is_some();
        let mut req = match body {
            Some(b) => self.http.post(url).header(CONTENT_TYPE, HeaderValue::from_static(FORM)).body(b),
            None => self.http.get(url),
        };
        req = req.header(REQUESTED_WITH, HeaderValue::from_static("XMLHttpRequest"));
        if let Some(t) = &token {
            req = req.header(VERIFICATION_TOKEN, t);
        }
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        self.maybe_delivered = false;
        let answer = req.send().await.map_err(|e| {
            // A refused connection never reached the router; anything later may have.
            self.maybe_delivered = posting && !e.is_connect();
            Trouble::Unreachable(format!("{path}: {}", plain(&e)))
        })?;
        if let Some(cookie) = session_cookie(answer.headers()) {
            self.cookie = Some(cookie);
        }
        if fresh {
            self.tokens.clear();
        }
        self.tokens
            .push_from_headers(answer.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))));
        let status = answer.status();
        let bytes = answer.bytes().await.map_err(|e| {
            self.maybe_delivered = posting;
            Trouble::Unreachable(format!("{path}: {}", plain(&e)))
        })?;
        if status.is_server_error() {
            return Err(Trouble::Unreachable(format!("{path}: HTTP {status}")));
        }
        if !status.is_success() {
            return Err(Trouble::Failed(format!("{path}: HTTP {status}")));
        }
        Ok(bytes.to_vec())
    }

    /// Tokens from the web UI's page, else from one of the two token calls.
    async fn bootstrap(&mut self) -> Result<(), Trouble> {
        self.tokens.clear();
        self.cookie = None;
        self.ready = false;
        self.logged_in = false;
        let page = self.exchange("/", None, None, false).await?;
        if self.tokens.bootstrap_from_html(&String::from_utf8_lossy(&page)) > 0 {
            return Ok(());
        }
        let token = self.exchange("/api/webserver/token", None, None, false).await?;
        if self.tokens.bootstrap_from_token(&token).is_ok() {
            return Ok(());
        }
        let ses = self.exchange("/api/webserver/SesTokInfo", None, None, false).await?;
        match self.tokens.bootstrap_from_ses_tok_info(&ses) {
            Ok(cookie) => {
                self.cookie = Some(cookie);
                Ok(())
            }
            Err(e) => Err(Trouble::Failed(format!("the router handed out no token: {e}"))),
        }
    }

    /// Whether the last POST may have reached the router although no answer came.
    pub(super) fn maybe_delivered(&self) -> bool {
        self.maybe_delivered
    }

    /// No new session from now on (the link is stopping); [`Router::logout`] ends this one.
    pub(super) fn close(&mut self) {
        self.closed = true;
    }

    /// A fresh session: tokens, then a login if the router asks for one.
    pub(super) async fn connect(&mut self) -> Result<(), Trouble> {
        if self.closed {
            return Err(Trouble::Unreachable("the link is stopping".into()));
        }
        self.bootstrap().await?;
        self.login().await?;
        self.ready = true;
        Ok(())
    }

    async fn login(&mut self) -> Result<(), Trouble> {
        let token = self.tokens.for_get().map(str::to_string);
        let state = self.exchange("/api/user/state-login", None, token, false).await?;
        let state = match response(&state) {
            Ok(r) => LoginState::parse(&r).map_err(|e| Trouble::Failed(format!("state-login: {e}")))?,
            // Sticks without a login may not have the call at all.
            Err(CodecError::Router(e)) if e.code == 100002 => return Ok(()),
            Err(CodecError::Router(e)) => return Err(Trouble::Failed(format!("state-login: {e}"))),
            Err(e) => return Err(Trouble::Failed(format!("state-login: {e}"))),
        };
        // A stick without login says nothing or says it is logged in.
        if state.state.is_none() || state.logged_in() {
            return Ok(());
        }
        let Some(password) = self.password.clone() else {
            return Err(Trouble::BadCredentials("the router asks for a login and no password is configured".into()));
        };
        if !self.password_login {
            match self.challenge_login(&password).await? {
                true => {
                    self.logged_in = true;
                    return Ok(());
                }
                // No challenge login here: the password login, from now on.
                false => self.password_login = true,
            }
        }
        let token = self.tokens.take().unwrap_or_default();
        let body = login_request(&self.username, &password, state.password_type, &token);
        let answer = self.exchange("/api/user/login", Some(body.into_bytes()), Some(token), true).await?;
        match crate::hilink::xml::ok(&answer) {
            Ok(()) => {
                self.logged_in = true;
                Ok(())
            }
            Err(CodecError::Router(e)) => Err(login_trouble(e)),
            Err(e) => Err(Trouble::Failed(format!("login: {e}"))),
        }
    }

    /// The challenge (SCRAM-style) login of B525s-65a, B618 and B610h firmwares. Ok(false):
    /// the router does not offer it.
    async fn challenge_login(&mut self, password: &str) -> Result<bool, Trouble> {
        let firstnonce = scram::new_nonce().map_err(|e| Trouble::Failed(format!("challenge login: {e}")))?;
        let token = self.tokens.take();
        let body = scram::challenge_request(&self.username, &firstnonce).into_bytes();
        let answer = match self.exchange("/api/user/challenge_login", Some(body), token, false).await {
            Ok(a) => a,
            // A firmware without the call may answer 404.
            Err(Trouble::Failed(e)) => {
                tracing::debug!(router = %self.base, error = %e, "no challenge login");
                return Ok(false);
            }
            Err(t) => return Err(t),
        };
        let challenge = match response(&answer) {
            Ok(r) => scram::Challenge::parse(&r).map_err(|e| Trouble::Failed(format!("challenge_login: {e}")))?,
            Err(CodecError::Router(e)) => {
                return match login_trouble(e) {
                    Trouble::Failed(e) => {
                        tracing::debug!(router = %self.base, error = %e, "no challenge login");
                        Ok(false)
                    }
                    t => Err(t),
                };
            }
            // A firmware without the call may answer with its web page.
            Err(e) => {
                tracing::debug!(router = %self.base, error = %e, "no challenge login");
                return Ok(false);
            }
        };
        if !challenge.extends(&firstnonce) {
            tracing::warn!(router = %self.base, "the router's nonce does not extend ours; going on as its web page does");
        }
        let keys = challenge.keys(password);
        let servernonce = challenge.servernonce.clone();
        let proof = keys.client_proof(&firstnonce, &servernonce);
        let token = self.tokens.take();
        let body = scram::authentication_request(&proof, &servernonce).into_bytes();
        let answer = self.exchange("/api/user/authentication_login", Some(body), token, true).await?;
        let auth = match response(&answer) {
            Ok(r) => {
                scram::Authentication::parse(&r).map_err(|e| Trouble::Failed(format!("authentication_login: {e}")))?
            }
            Err(CodecError::Router(e)) => return Err(login_trouble(e)),
            Err(e) => return Err(Trouble::Failed(format!("authentication_login: {e}"))),
        };
        // Logged in from here: a refused proof of the router's would leave a session open.
        self.logged_in = true;
        if let Err(e) = keys.verify_authentication(&firstnonce, &servernonce, &auth) {
            // The web page refuses such a router; public clients go on. A firmware that
            // signs differently would otherwise never work, so this is said, not enforced.
            tracing::error!(router = %self.base, error = %e, "the router's login answer does not prove it knows the password");
        }
        Ok(true)
    }

    /// Logs out if we logged in: routers allow few sessions, and an abandoned one blocks
    /// logins for minutes.
    pub(super) async fn logout(&mut self) {
        if !self.logged_in {
            return;
        }
        let token = self.tokens.take();
        match self.exchange("/api/user/logout", Some(logout_request().into_bytes()), token, false).await {
            Ok(a) => match crate::hilink::xml::ok(&a) {
                Ok(()) => tracing::info!(router = %self.base, "logged out"),
                Err(e) => tracing::warn!(router = %self.base, error = %e, "logout refused"),
            },
            Err(e) => tracing::warn!(router = %self.base, error = %e, "could not log out"),
        }
        self.logged_in = false;
        self.ready = false;
    }

    /// The session is gone (a reboot, an idle timeout): the next call starts afresh.
    pub(super) fn forget(&mut self) {
        self.ready = false;
        self.logged_in = false;
    }

    /// A token from `/api/webserver/token` in the current session.
    async fn fresh_token(&mut self) -> bool {
        match self.exchange("/api/webserver/token", None, None, false).await {
            Ok(answer) => {
                self.tokens.clear();
                self.tokens.bootstrap_from_token(&answer).is_ok()
            }
            Err(_) => false,
        }
    }

    /// A GET; the `<response>` element.
    pub(super) async fn get(&mut self, path: &str) -> Result<Element, Trouble> {
        self.call(path, None).await
    }

    /// A POST of a request body; the `<response>` element.
    pub(super) async fn post(&mut self, path: &str, body: Vec<u8>) -> Result<Element, Trouble> {
        self.call(path, Some(body)).await
    }

    /// A call on a working session. Not logged in: log in and try again; a token or
    /// session refused: a new session and one more try.
    async fn call(&mut self, path: &str, body: Option<Vec<u8>>) -> Result<Element, Trouble> {
        if self.closed {
            return Err(Trouble::Unreachable("the link is stopping".into()));
        }
        if !self.ready {
            self.connect().await?;
        }
        let mut retried = false;
        loop {
            let token = match body {
                Some(_) => self.tokens.take(),
                None => self.tokens.for_get().map(str::to_string),
            };
            let answer = self.exchange(path, body.clone(), token, false).await?;
            let e = match response(&answer) {
                Ok(r) => return Ok(r),
                Err(CodecError::Router(e)) => e,
                Err(e) => return Err(Trouble::Failed(format!("{path}: unreadable answer: {e}"))),
            };
            match e.class() {
                // A token refused in a live session: a fresh token may be all it takes.
                ErrorClass::Session if !retried && e.code != 125002 && self.fresh_token().await => {
                    tracing::info!(router = %self.base, path, error = %e, "token refused; trying again with a fresh one");
                    retried = true;
                }
                ErrorClass::Login | ErrorClass::Session if !retried => {
                    tracing::info!(router = %self.base, path, error = %e, "session lost; starting a new one");
                    retried = true;
                    self.connect().await?;
                }
                ErrorClass::Login | ErrorClass::Session => {
                    self.forget();
                    return Err(Trouble::Unreachable(format!("{path}: {e} again after a new session")));
                }
                ErrorClass::Busy => return Err(Trouble::Busy(e)),
                ErrorClass::FormatBug => {
                    let sent = body.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                    tracing::error!(router = %self.base, path, request = %sent, "the router could not read our request (100005): a bug, please report it");
                    return Err(Trouble::Failed(format!("{path}: {e}")));
                }
                ErrorClass::BadCredentials => return Err(Trouble::BadCredentials(format!("{path}: {e}"))),
                ErrorClass::LockedOut => return Err(Trouble::LockedOut(format!("{path}: {e}"))),
                ErrorClass::TooManySessions => return Err(Trouble::TooManySessions(format!("{path}: {e}"))),
                ErrorClass::Other => return Err(Trouble::Failed(format!("{path}: {e}"))),
            }
        }
    }
}

/// What a refused login means for the link.
fn login_trouble(e: RouterError) -> Trouble {
    match e.class() {
        ErrorClass::BadCredentials => Trouble::BadCredentials(format!("login refused: {e}")),
        ErrorClass::LockedOut => Trouble::LockedOut(format!("login refused: {e}")),
        ErrorClass::TooManySessions => Trouble::TooManySessions(format!("login refused: {e}")),
        ErrorClass::Busy => Trouble::Busy(e),
        _ => Trouble::Failed(format!("login refused: {e}")),
    }
}

/// `SessionID=…` from the answer's Set-Cookie headers.
fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let pair = v.split(';').next()?.trim();
        pair.starts_with("SessionID=").then(|| pair.to_string())
    })
}

/// A reqwest error without its URL noise, with the cause that says what happened.
fn plain(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "no answer in time".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.source().is_none() {
            s.push_str(&format!(" ({inner})"));
        }
        source = inner.source();
    }
    s
}
