//! A real Synapse homeserver for integration tests.
//!
//! Synapse is installed once into a virtualenv under the cargo target dir (shared
//! by every test thread and process, guarded by a file lock), then each test gets
//! its own server: fresh tempdir, SQLite database, loopback port. Failures panic
//! with the tail of the Synapse log; nothing is ever skipped.

use std::collections::hash_map::RandomState;
use std::fs::{self, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::venv::{self, run_logged, tail_of_file};

/// The Synapse release the harness installs; bump it to test against a newer one.
pub const SYNAPSE_VERSION: &str = "1.163.2";

const SERVER_NAME: &str = "localhost";
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
/// `free_port` can race with other tests binding ports; retry on EADDRINUSE.
const START_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 80;
/// Synapse's default timeline limit (10) would silently drop events from a busy
/// incremental sync; tests must see every event.
const SYNC_FILTER: &str = r#"{"room":{"timeline":{"limit":1000}}}"#;

/// Where the shared Synapse virtualenv lives (`target/tmp/synapse-venv`).
pub fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("synapse-venv")
}

/// A free loopback TCP port (bound, read, released; another process may take it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("binding 127.0.0.1:0").port()
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for path
/// segments (room ids, event types, txn ids) and query values.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An unpredictable hex token. std's `RandomState` is randomly keyed, which is
/// plenty for secrets of a loopback test server and avoids a `rand` dependency.
pub fn random_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    (0..2)
        .map(|_| {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            h.write_u128(nanos);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// Runs blocking work off the async runtime, re-raising its panic unchanged.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Installs Synapse into the shared venv unless a previous run already did. Blocking.
fn ensure_venv() -> PathBuf {
    let requirement = format!("matrix-synapse=={SYNAPSE_VERSION}");
    venv::ensure_venv(&venv_dir(), SYNAPSE_VERSION, &[&requirement], "synapse harness")
}

/// The `homeserver.yaml` contents (JSON is valid YAML).
fn homeserver_config(dir: &Path, port: u16, registration: &Path, shared_secret: &str) -> Value {
    // Tests fire requests far faster than any human; Synapse's defaults would
    // answer 429 and make tests flaky.
    let rc = json!({"per_second": 10000, "burst_count": 10000});
    json!({
        "server_name": SERVER_NAME,
        "pid_file": dir.join("homeserver.pid"),
        "report_stats": false,
        "listeners": [{
            "port": port,
            "type": "http",
            "tls": false,
            "x_forwarded": false,
            "bind_addresses": ["127.0.0.1"],
            "resources": [{"names": ["client"], "compress": false}],
        }],
        "database": {"name": "sqlite3", "args": {"database": dir.join("homeserver.db")}},
        "media_store_path": dir.join("media_store"),
        "signing_key_path": dir.join("signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": random_token(),
        "form_secret": random_token(),
        "trusted_key_servers": [],
        "suppress_key_server_warning": true,
        "enable_metrics": false,
        // Default 12 rounds cost ~0.2 s per registration or login here.
        "bcrypt_rounds": 4,
        "app_service_config_files": [registration],
        "rc_message": rc,
        "rc_registration": rc,
        "rc_room_creation": rc,
        "rc_login": {"address": rc, "account": rc, "failed_attempts": rc},
        "rc_joins": {"local": rc, "remote": rc},
        "rc_joins_per_room": rc,
        "rc_invites": {"per_room": rc, "per_user": rc, "per_issuer": rc},
        "rc_third_party_invite": rc,
        "rc_admin_redaction": rc,
        "rc_media_create": rc,
        "rc_presence": {"per_user": rc},
        "rc_delayed_event_mgmt": rc,
        "rc_reports": rc,
        "rc_user_directory": rc,
        "rc_profile": rc,
        "rc_3pid_validation": rc,
        "rc_key_requests": rc,
    })
}

enum StartError {
    /// Exit status and the log written by this start.
    Exited(std::process::ExitStatus, String),
    Timeout,
}

/// A running Synapse; stopped (and its tempdir removed) on drop.
pub struct Synapse {
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// Always `localhost`.
    pub server_name: String,
    /// `registration_shared_secret`, for the admin registration API.
    pub shared_secret: String,
    venv: PathBuf,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Synapse {
    /// Starts a fresh Synapse with one appservice registration.
    pub async fn start(registration: &Path) -> Synapse {
        Self::start_with(registration, json!({})).await
    }

    /// Like [`Synapse::start`], with top-level `homeserver.yaml` keys from
    /// `overrides` (a JSON object) replacing the harness defaults.
    pub async fn start_with(registration: &Path, overrides: Value) -> Synapse {
        let registration = registration
            .canonicalize()
            .unwrap_or_else(|e| panic!("appservice registration {}: {e}", registration.display()));
        let venv = blocking(ensure_venv).await;

        let dir = tempfile::Builder::new().prefix("synapse-test-").tempdir().expect("creating Synapse tempdir");
        let dir_path = dir.path().to_path_buf();
        let mut hs = Synapse {
            port: 0,
            base_url: String::new(),
            server_name: SERVER_NAME.to_owned(),
            shared_secret: random_token(),
            venv: venv.clone(),
            dir: Some(dir),
            log_path: dir_path.join("homeserver.log"),
            dir_path: dir_path.clone(),
            child: None,
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("building HTTP client"),
        };

        let key = dir_path.join("signing.key");
        let key_log = dir_path.join("generate_signing_key.log");
        blocking(move || {
            run_logged(
                Command::new(venv.join("bin/generate_signing_key")).arg("-o").arg(&key),
                &key_log,
                "generate_signing_key",
            )
        })
        .await;

        for attempt in 1..=START_ATTEMPTS {
            hs.port = free_port();
            hs.base_url = format!("http://127.0.0.1:{}", hs.port);
            let mut config = homeserver_config(&dir_path, hs.port, &registration, &hs.shared_secret);
            if let (Some(config), Some(overrides)) = (config.as_object_mut(), overrides.as_object()) {
                config.extend(overrides.clone());
            }
            let yaml = serde_json::to_string_pretty(&config).expect("serialising config");
            fs::write(dir_path.join("homeserver.yaml"), yaml).expect("writing homeserver.yaml");

            match hs.spawn_and_wait().await {
                Ok(()) => return hs,
                Err(StartError::Exited(_, log))
                    if attempt < START_ATTEMPTS && log.contains("Address already in use") =>
                {
                    continue;
                }
                Err(StartError::Exited(status, _)) => panic!(
                    "Synapse exited during startup ({status}); tail of {}:\n{}",
                    hs.log_path.display(),
                    hs.log_tail()
                ),
                Err(StartError::Timeout) => panic!(
                    "Synapse did not answer GET /health with 200 within {HEALTH_TIMEOUT:?}; tail of {}:\n{}",
                    hs.log_path.display(),
                    hs.log_tail()
                ),
            }
        }
        unreachable!("the last start attempt either returns or panics")
    }

    /// Starts the Synapse process on the current config and waits for `/health`.
    async fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        // Append, so a restart keeps the earlier run's log.
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.log_path.display()));
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        let started = Instant::now();
        let child = Command::new(self.venv.join("bin/python"))
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(self.dir_path.join("homeserver.yaml"))
            .current_dir(&self.dir_path)
            // Otherwise the log tail we panic with may miss the last lines.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning Synapse: {e}"));
        self.child = Some(child);

        let health = format!("{}/health", self.base_url);
        let deadline = started + HEALTH_TIMEOUT;
        loop {
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                let log = fs::read(&self.log_path).unwrap_or_default();
                let this_run = String::from_utf8_lossy(log.get(log_start..).unwrap_or_default());
                return Err(StartError::Exited(status, this_run.into_owned()));
            }
            let ok = self
                .http
                .get(&health)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
            if ok {
                eprintln!("synapse harness: {} healthy after {:.2?}", self.base_url, started.elapsed());
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops Synapse (SIGTERM, then SIGKILL after ~3 s), keeping its database.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
    }

    /// Starts Synapse again on the same port and database, e.g. after [`Synapse::stop`].
    pub async fn restart(&mut self) {
        self.stop();
        match self.spawn_and_wait().await {
            Ok(()) => {}
            Err(StartError::Exited(status, _)) => {
                panic!("Synapse exited during restart ({status}); tail of log:\n{}", self.log_tail())
            }
            Err(StartError::Timeout) => {
                panic!("restarted Synapse not healthy within {HEALTH_TIMEOUT:?}; tail of log:\n{}", self.log_tail())
            }
        }
    }

    /// The server's working directory (config, database, log).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines of Synapse's stdout/stderr.
    pub fn log_tail(&self) -> String {
        tail_of_file(&self.log_path, LOG_TAIL_LINES)
    }

    /// Registers a (non-admin) user through the shared-secret admin API and
    /// returns a client logged in with the access token that registration issues.
    pub async fn register_user(&self, localpart: &str) -> TestUser {
        let url = format!("{}/_synapse/admin/v1/register", self.base_url);
        let nonce = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .json::<Value>()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))["nonce"]
            .as_str()
            .unwrap_or_else(|| panic!("GET {url}: no nonce; Synapse log:\n{}", self.log_tail()))
            .to_owned();
        let password = format!("pw-{}", random_token());
        let mac = self.hmac_sha1_hex(&format!("{nonce}\0{localpart}\0{password}\0notadmin")).await;
        let resp = self
            .http
            .post(&url)
            .json(&json!({
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": false,
                "mac": mac,
            }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            panic!("registering {localpart} failed: {status} {body}; Synapse log:\n{}", self.log_tail());
        }
        let field = |name: &str| {
            body[name].as_str().unwrap_or_else(|| panic!("registration response lacks {name}: {body}")).to_owned()
        };
        TestUser::new(&self.base_url, field("user_id"), field("access_token"))
    }

    /// HMAC-SHA1 as the admin registration API wants it. Python's stdlib does it
    /// in a ~20 ms interpreter start (`-S`: no site imports), which spares a crypto
    /// crate and the ~0.7 s `register_new_matrix_user` takes to import Synapse.
    async fn hmac_sha1_hex(&self, message: &str) -> String {
        const SCRIPT: &str = "import hashlib,hmac,os,sys\n\
            sys.stdout.write(hmac.new(os.environ['HMAC_KEY'].encode(), \
            sys.stdin.buffer.read(), hashlib.sha1).hexdigest())";
        let mut child = tokio::process::Command::new(self.venv.join("bin/python"))
            .args(["-S", "-c", SCRIPT])
            .env("HMAC_KEY", &self.shared_secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning python for HMAC");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(message.as_bytes()).await.expect("writing HMAC input");
        drop(stdin);
        let out = child.wait_with_output().await.expect("running python for HMAC");
        assert!(out.status.success(), "HMAC helper failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("HMAC hex is ASCII")
    }
}

/// SIGTERM lets Synapse shut down cleanly; std only sends SIGKILL and libc is
/// not a dependency, so kill(1) delivers the SIGTERM.
fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = self.dir.take()
            && std::thread::panicking()
        {
            let path = dir.keep();
            eprintln!("synapse harness: test failed; kept Synapse dir {} (log: homeserver.log)", path.display());
        }
    }
}

/// Everything a user's syncs have delivered so far, in arrival order.
#[derive(Default)]
struct Seen {
    /// (room_id, event) from `rooms.join.*.timeline`.
    timeline: Vec<(String, Value)>,
    /// (room_id, event) from `rooms.join.*.ephemeral` (receipts, typing).
    ephemeral: Vec<(String, Value)>,
    /// (room_id, invite room object) from `rooms.invite`.
    invites: Vec<(String, Value)>,
}

#[derive(Clone, Copy)]
enum Stream {
    Timeline,
    Ephemeral,
    Invites,
}

impl Seen {
    fn get(&self, stream: Stream) -> &Vec<(String, Value)> {
        match stream {
            Stream::Timeline => &self.timeline,
            Stream::Ephemeral => &self.ephemeral,
            Stream::Invites => &self.invites,
        }
    }
}

/// A logged-in Matrix client for test assertions. Every method panics on failure.
pub struct TestUser {
    pub user_id: String,
    pub access_token: String,
    pub base_url: String,
    http: reqwest::Client,
    /// The sync token; an async mutex so concurrent syncs are serialised and
    /// never deliver the same batch twice.
    since: tokio::sync::Mutex<Option<String>>,
    seen: Mutex<Seen>,
}

impl TestUser {
    pub fn new(base_url: &str, user_id: String, access_token: String) -> TestUser {
        TestUser {
            user_id,
            access_token,
            base_url: base_url.to_owned(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("building HTTP client"),
            since: tokio::sync::Mutex::new(None),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// An authenticated request to `path` (starting with `/_matrix/...`);
    /// returns the status code and the JSON body (`Null` if not JSON).
    pub async fn request_raw(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req =
            self.http.request(method.clone(), format!("{}{path}", self.base_url)).bearer_auth(&self.access_token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{}: {method} {path}: {e}", self.user_id));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Like [`TestUser::request_raw`], panicking unless the status is 2xx.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let (status, json) = self.request_raw(method.clone(), path, body).await;
        assert!((200..300).contains(&status), "{}: {method} {path} -> {status}: {json}", self.user_id);
        json
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.request(Method::GET, path, None).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Value {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Value {
        self.request(Method::PUT, path, Some(body)).await
    }

    /// Creates a direct chat with `invitee` the way Element does; returns the room id.
    pub async fn create_dm(&self, invitee: &str) -> String {
        let body = json!({
            "preset": "trusted_private_chat",
            "is_direct": true,
            "invite": [invitee],
        });
        let resp = self.post_json("/_matrix/client/v3/createRoom", &body).await;
        resp["room_id"].as_str().unwrap_or_else(|| panic!("createRoom without room_id: {resp}")).to_owned()
    }

    pub async fn join(&self, room_id: &str) {
        let path = format!("/_matrix/client/v3/rooms/{}/join", urlencode(room_id));
        self.post_json(&path, &json!({})).await;
    }

    pub async fn send_text(&self, room_id: &str, body: &str) -> String {
        self.send_content(room_id, json!({"msgtype": "m.text", "body": body})).await
    }

    /// Sends an `m.room.message` with the given content; returns the event id.
    pub async fn send_content(&self, room_id: &str, content: Value) -> String {
        self.send_event(room_id, "m.room.message", content).await
    }

    /// Sends any message-like event; returns the event id.
    pub async fn send_event(&self, room_id: &str, event_type: &str, content: Value) -> String {
        static TXN: AtomicU64 = AtomicU64::new(0);
        let txn = format!("harness-{}-{}", random_token(), TXN.fetch_add(1, Ordering::Relaxed));
        let path = format!("/_matrix/client/v3/rooms/{}/send/{}/{txn}", urlencode(room_id), urlencode(event_type));
        let resp = self.put_json(&path, &content).await;
        resp["event_id"].as_str().unwrap_or_else(|| panic!("send without event_id: {resp}")).to_owned()
    }

    /// Every `m.room.message` of a room the user may see, oldest first, read with
    /// `/messages` (paged): what the room holds, whatever syncs delivered.
    pub async fn room_messages(&self, room_id: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let mut path = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100", urlencode(room_id));
            if let Some(token) = &from {
                path.push_str(&format!("&from={}", urlencode(token)));
            }
            let resp = self.get_json(&path).await;
            let chunk = resp["chunk"].as_array().cloned().unwrap_or_default();
            let done = chunk.is_empty();
            out.extend(chunk.into_iter().filter(|e| e["type"] == "m.room.message"));
            match resp["end"].as_str() {
                Some(end) if !done => from = Some(end.to_owned()),
                _ => break,
            }
        }
        out.reverse();
        out
    }

    pub async fn room_state(&self, room_id: &str) -> Value {
        let path = format!("/_matrix/client/v3/rooms/{}/state", urlencode(room_id));
        self.get_json(&path).await
    }

    /// One incremental `/sync` (long-poll 1 s); records its timeline, ephemeral
    /// and invite entries and returns the raw response.
    pub async fn sync_once(&self) -> Value {
        let mut since = self.since.lock().await;
        let mut path = format!("/_matrix/client/v3/sync?timeout=1000&filter={}", urlencode(SYNC_FILTER));
        if let Some(token) = since.as_deref() {
            path.push_str("&since=");
            path.push_str(&urlencode(token));
        }
        let resp = self.get_json(&path).await;
        self.record(&resp);
        *since =
            Some(resp["next_batch"].as_str().unwrap_or_else(|| panic!("sync without next_batch: {resp}")).to_owned());
        resp
    }

    fn record(&self, sync: &Value) {
        let mut seen = self.seen.lock().unwrap();
        if let Some(joined) = sync["rooms"]["join"].as_object() {
            for (room_id, room) in joined {
                for event in room["timeline"]["events"].as_array().into_iter().flatten() {
                    seen.timeline.push((room_id.clone(), event.clone()));
                }
                for event in room["ephemeral"]["events"].as_array().into_iter().flatten() {
                    seen.ephemeral.push((room_id.clone(), event.clone()));
                }
            }
        }
        if let Some(invited) = sync["rooms"]["invite"].as_object() {
            for (room_id, room) in invited {
                seen.invites.push((room_id.clone(), room.clone()));
            }
        }
    }

    /// Syncs until `pred` matches an entry of `stream` (earlier ones included).
    async fn wait_in<T>(
        &self,
        stream: Stream,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str, &Value) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut checked = 0;
        loop {
            // Clone out before calling `pred`, so `pred` may use this user freely.
            let fresh: Vec<(String, Value)> = {
                let seen = self.seen.lock().unwrap();
                seen.get(stream)[checked..].to_vec()
            };
            checked += fresh.len();
            if let Some(found) = fresh.iter().find_map(|(room, item)| pred(room, item)) {
                return found;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: timed out after {timeout:?} waiting for {what}; last entries seen:\n{}",
                    self.user_id,
                    self.describe_recent(stream)
                );
            }
            self.sync_once().await;
        }
    }

    /// The last entries of `stream`, one short line each, for timeout messages.
    fn describe_recent(&self, stream: Stream) -> String {
        let seen = self.seen.lock().unwrap();
        let all = seen.get(stream);
        let lines: Vec<String> = all[all.len().saturating_sub(15)..]
            .iter()
            .map(|(room, item)| {
                // Events lead with what one scans for; other items (invite rooms) as they are.
                let mut text = match item["type"].as_str() {
                    Some(kind) => {
                        format!("{kind} from {} state_key={} {}", item["sender"], item["state_key"], item["content"])
                    }
                    None => item.to_string(),
                };
                if text.len() > 300 {
                    let mut cut = 300;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                    text.push('…');
                }
                format!("  {room}: {text}")
            })
            .collect();
        if lines.is_empty() { "  <none>".to_owned() } else { lines.join("\n") }
    }

    /// Waits for a timeline event in a joined room for which `pred(room_id, event)`
    /// is `Some`; events from earlier syncs count too.
    pub async fn wait_for_event<T>(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str, &Value) -> Option<T>,
    ) -> T {
        self.wait_in(Stream::Timeline, what, timeout, pred).await
    }

    /// Waits for an invite whose room object (`{"invite_state": {"events": [...]}}`)
    /// satisfies `pred(room_id, room)`; returns the room id. Invites stay recorded
    /// after joining, so a re-invite to the same room needs a stricter `pred`.
    pub async fn wait_for_invite(&self, what: &str, timeout: Duration, pred: impl Fn(&str, &Value) -> bool) -> String {
        self.wait_in(Stream::Invites, what, timeout, |room, invite| pred(room, invite).then(|| room.to_owned())).await
    }

    /// Waits for an ephemeral event (`m.receipt`, `m.typing`) matching `pred`.
    pub async fn wait_for_ephemeral<T>(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str, &Value) -> Option<T>,
    ) -> T {
        self.wait_in(Stream::Ephemeral, what, timeout, pred).await
    }

    /// Waits until `from_user` has a receipt of any type (`m.read`,
    /// `m.read.private`, …) on `event_id` in `room_id`.
    pub async fn wait_for_receipt(&self, room_id: &str, event_id: &str, from_user: &str, timeout: Duration) {
        let what = format!("a receipt from {from_user} on {event_id} in {room_id}");
        self.wait_for_ephemeral(&what, timeout, |room, event| {
            let receipts = event["content"][event_id].as_object()?;
            (room == room_id
                && event["type"] == "m.receipt"
                && receipts.values().any(|by_user| by_user.get(from_user).is_some()))
            .then_some(())
        })
        .await
    }

    pub fn seen_events(&self) -> Vec<(String, Value)> {
        self.seen.lock().unwrap().timeline.clone()
    }

    pub fn seen_ephemeral(&self) -> Vec<(String, Value)> {
        self.seen.lock().unwrap().ephemeral.clone()
    }

    pub fn seen_invites(&self) -> Vec<(String, Value)> {
        self.seen.lock().unwrap().invites.clone()
    }
}
