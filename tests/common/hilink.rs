//! The HiLink test peers: huawei-lte-api (PyPI, independent) run through
//! `tests/hilink_driver.py`, and a bare Rust client built on the crate's own codec for
//! the requests a well-behaved client never sends.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::header::{COOKIE, HeaderMap};
use serde_json::Value;
use sms_bridge::hilink::Tokens;
use sms_bridge::hilink::login::login_request;

use super::venv;

/// The huawei-lte-api release the tests install.
pub const HUAWEI_LTE_API_VERSION: &str = "2.0.1";

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("hilink-venv")
}

/// Runs one driver scenario (blocking); its JSON answer. Panics with stderr on failure.
pub fn driver(scenario: &str, args: &Value) -> Value {
    let requirement = format!("huawei-lte-api=={HUAWEI_LTE_API_VERSION}");
    let venv = venv::ensure_venv(&venv_dir(), HUAWEI_LTE_API_VERSION, &[&requirement], "hilink harness");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hilink_driver.py");
    let out = Command::new(venv.join("bin/python"))
        .arg("-I")
        .arg(&script)
        .arg(scenario)
        .arg(args.to_string())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "driver {scenario} failed ({}):\n{}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("driver output {stdout:?}: {e}"))
}

/// A bare HiLink client: cookie and token queue by hand, bodies as given.
pub struct Raw {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub tokens: Tokens,
}

impl Raw {
    pub fn new(base: &str) -> Raw {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap();
        Raw { http, base: base.trim_end_matches('/').to_string(), cookie: None, tokens: Tokens::new() }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            if let Some(c) = v.split(';').next().filter(|c| c.starts_with("SessionID=")) {
                self.cookie = Some(c.to_string());
            }
        }
        let pairs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or_default())).collect();
        self.tokens.push_from_headers(pairs);
    }

    /// GET / : a session cookie and the page's tokens.
    pub async fn boot(&mut self) -> Result<(), reqwest::Error> {
        let r = self.http.get(format!("{}/", self.base)).send().await?;
        self.keep(&r.headers().clone());
        let html = r.text().await?;
        self.tokens.clear();
        self.tokens.bootstrap_from_html(&html);
        Ok(())
    }

    pub async fn get(&mut self, path: &str) -> String {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let r = req.send().await.unwrap();
        self.keep(&r.headers().clone());
        r.text().await.unwrap()
    }

    /// POSTs with `token` (None: no header).
    pub async fn post_with(&mut self, path: &str, token: Option<&str>, body: impl Into<Vec<u8>>) -> String {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body.into());
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(t) = token {
            req = req.header("__RequestVerificationToken", t);
        }
        let r = req.send().await.unwrap();
        self.keep(&r.headers().clone());
        r.text().await.unwrap()
    }

    /// POSTs with the next token of the queue.
    pub async fn post(&mut self, path: &str, body: impl Into<Vec<u8>>) -> String {
        let t = self.tokens.take();
        self.post_with(path, t.as_deref(), body).await
    }

    /// Logs in with password_type 4, as the codec builds it.
    pub async fn login(&mut self, user: &str, password: &str) -> String {
        let t = self.tokens.take().expect("a token to log in with");
        // Only the login answer's tokens stay valid.
        self.tokens.clear();
        let body = login_request(user, password, 4, &t);
        self.post_with("/api/user/login", Some(&t), body).await
    }
}

/// The `<code>` of an error answer, or None.
pub fn code(answer: &str) -> Option<i64> {
    match sms_bridge::hilink::xml::response(answer.as_bytes()) {
        Err(sms_bridge::hilink::Error::Router(e)) => Some(e.code),
        _ => None,
    }
}
