//! Runs the real `sms-bridge` binary against a real Synapse, with the test link's control
//! API and sent-messages log as the "phone network".

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::synapse::{Synapse, TestUser};

pub const BOT: &str = "@smsbot:localhost";
pub const OUR_NUMBER: &str = "+15550001111";

/// A configured bridge (config + registration written) and its homeserver.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub hs: Synapse,
    pub config_path: PathBuf,
    pub as_port: u16,
    pub control: String,
    pub sent_log: PathBuf,
    pub hs_token: String,
    pub as_token: String,
    http: reqwest::Client,
    /// The bridge's ports stay bound until the bridge starts, so Synapse (or another
    /// test) cannot be handed the same "free" port in between.
    reserved: std::sync::Mutex<Vec<std::net::TcpListener>>,
}

fn reserve_port() -> (u16, std::net::TcpListener) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    (l.local_addr().unwrap().port(), l)
}

/// `permissions` is the YAML body of bridge.permissions (indented by 4).
pub async fn setup(permissions: &str) -> Env {
    setup_with(permissions, "").await
}

/// [`setup`] with more `backends:` entries (YAML list items indented by 2).
pub async fn setup_with(permissions: &str, more_backends: &str) -> Env {
    setup_full(permissions, more_backends, "").await
}

/// `setup_with` plus whole config sections (e.g. `mms:`), inserted before `logging:`.
pub async fn setup_full(permissions: &str, more_backends: &str, sections: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (as_port, as_listener) = reserve_port();
    let (control_port, control_listener) = reserve_port();
    let sent_log = dir.path().join("sent.jsonl");
    let config_path = dir.path().join("config.yaml");
    let registration = dir.path().join("registration.yaml");
    let config = format!(
        r#"homeserver:
  address: http://127.0.0.1:1
  domain: localhost
appservice:
  address: http://127.0.0.1:{as_port}
  hostname: 127.0.0.1
  port: {as_port}
  id: sms
  as_token: generate
  hs_token: generate
database:
  path: {db}
bridge:
  permissions:
{permissions}
  default_region: US
matrix:
  message_status_events: true
  delivery_receipts: true
  message_error_notices: true
backends:
  - id: test1
    type: test
    number: "{OUR_NUMBER}"
    control: 127.0.0.1:{control_port}
    sent_log: {sent}
{more_backends}
{sections}
logging:
  level: info,sms_bridge=debug
"#,
        db = dir.path().join("bridge.db").display(),
        sent = sent_log.display(),
    );
    std::fs::write(&config_path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sms-bridge"))
        .args(["-g", "-c"])
        .arg(&config_path)
        .arg("-r")
        .arg(&registration)
        .output()
        .unwrap();
    assert!(out.status.success(), "-g failed: {}", String::from_utf8_lossy(&out.stderr));
    let hs = Synapse::start(&registration).await;
    let text = std::fs::read_to_string(&config_path).unwrap();
    let text = text.replace("http://127.0.0.1:1", &hs.base_url);
    std::fs::write(&config_path, &text).unwrap();
    let token = |key: &str| -> String {
        let line = text.lines().find(|l| l.trim_start().starts_with(key)).unwrap();
        line.split('"').nth(1).unwrap().to_string()
    };
    Env {
        hs_token: token("hs_token:"),
        as_token: token("as_token:"),
        dir,
        hs,
        config_path,
        as_port,
        control: format!("http://127.0.0.1:{control_port}"),
        sent_log,
        http: reqwest::Client::new(),
        reserved: std::sync::Mutex::new(vec![as_listener, control_listener]),
    }
}

/// A running bridge process; killed (SIGKILL) on drop.
pub struct BridgeProc {
    child: Child,
    pub log: PathBuf,
}

impl BridgeProc {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as `docker stop` sends it, and the exit status once the bridge has shut
    /// down (SIGKILL after 20 s).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("the bridge did not stop within 20 s of SIGTERM:\n{}", tail(&self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.log_text().contains(needle) {
            assert!(start.elapsed() < timeout, "bridge log never said {needle:?}:\n{}", tail(&self.log_text()));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for BridgeProc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- bridge log ({}) ---\n{}", self.log.display(), tail(&self.log_text()));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

impl Env {
    /// Starts the bridge and waits until its test link answers (i.e. it has started).
    pub async fn start_bridge(&self, failpoint: Option<&str>) -> BridgeProc {
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = self.dir.path().join(format!("bridge-{n}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sms-bridge"));
        cmd.arg("-c").arg(&self.config_path).stdout(Stdio::null()).stderr(file).env("NO_COLOR", "1");
        cmd.env_remove("RUST_LOG");
        if let Some(f) = failpoint {
            cmd.env("SMS_BRIDGE_FAILPOINT", f);
        }
        self.reserved.lock().unwrap().clear();
        let child = cmd.spawn().unwrap();
        let proc = BridgeProc { child, log };
        let start = Instant::now();
        loop {
            if let Ok(r) = self.http.get(format!("{}/sent", self.control)).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "bridge did not start:\n{}", tail(&proc.log_text()));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        proc
    }

    /// A phone texts us; returns once the bridge committed it.
    pub async fn inject(&self, from: &str, text: &str) -> Value {
        self.control_post("/inject", json!({ "from": from, "text": text, "timestamp_ms": 1_700_000_000_000i64 })).await
    }

    pub async fn control_post(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(format!("{}{path}", self.control)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Everything the test link sent, across bridge restarts. A line the link is still
    /// writing (no newline yet) is left for the next look.
    pub fn sent(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.sent_log)
            .unwrap_or_default()
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until the link sent a message with this text; returns it.
    pub async fn wait_sent(&self, text: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            if let Some(m) = self.sent().into_iter().find(|m| m["text"] == text) {
                return m;
            }
            assert!(start.elapsed() < timeout, "the link never sent {text:?}; sent: {:?}", self.sent());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A raw request to the bridge's appservice API.
    pub async fn appservice(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("http://127.0.0.1:{}{path}", self.as_port));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("bridge.db")
    }

    /// Points the bridge's `homeserver.address` at `url` (e.g. an [`HsProxy`] in front of
    /// Synapse) instead of Synapse itself; call before starting the bridge.
    ///
    /// [`HsProxy`]: super::hs_proxy::HsProxy
    pub fn route_homeserver_via(&self, url: &str) {
        let text = std::fs::read_to_string(&self.config_path).unwrap();
        let from = format!("  address: {}\n", self.hs.base_url);
        assert!(text.contains(&from), "no homeserver address in the config:\n{text}");
        std::fs::write(&self.config_path, text.replacen(&from, &format!("  address: {url}\n"), 1)).unwrap();
    }

    /// Reads the bridge's database (read-only, while it runs): `sql` must yield one integer.
    pub fn db_count(&self, sql: &str) -> i64 {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let db = rusqlite::Connection::open_with_flags(self.db_path(), flags).unwrap();
        db.busy_timeout(Duration::from_secs(5)).unwrap();
        db.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

pub fn wait() -> Duration {
    Duration::from_secs(20)
}

/// The user opens a DM with the bot; returns the management room once the bot's welcome arrives.
pub async fn open_management_room(user: &TestUser) -> String {
    let room = user.create_dm(BOT).await;
    user.wait_for_event("the bot's welcome notice", wait(), |r, e| {
        (r == room && e["sender"] == BOT && e["content"]["msgtype"] == "m.notice").then_some(())
    })
    .await;
    room
}

/// Sends a command and waits for the bot's reply that contains `expect`.
pub async fn command(user: &TestUser, room: &str, line: &str, expect: &str) -> String {
    user.send_text(room, line).await;
    user.wait_for_event(&format!("a reply to {line:?} containing {expect:?}"), wait(), |r, e| {
        let body = e["content"]["body"].as_str()?;
        (r == room && e["sender"] == BOT && body.contains(expect) && !body.starts_with("Hello!"))
            .then(|| body.to_string())
    })
    .await
}

/// Bodies of m.room.message events in a room as the user saw them, with senders.
pub fn messages(user: &TestUser, room: &str) -> Vec<(String, String)> {
    user.seen_events()
        .into_iter()
        .filter(|(r, e)| r == room && e["type"] == "m.room.message")
        .map(|(_, e)| {
            (e["sender"].as_str().unwrap_or("").to_string(), e["content"]["body"].as_str().unwrap_or("").to_string())
        })
        .collect()
}
