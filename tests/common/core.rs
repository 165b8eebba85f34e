//! The bridge core without a homeserver: `MemoryMatrix` and `TestBackend` in process,
//! and the workers driven step by step (no `Bridge::start`, whose loops would make the
//! order of things depend on timing). Shared by the core test files.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use sms_bridge::backend::test::TestBackend;
use sms_bridge::backend::{Backend, DeliveryReport, DeliveryStatus, EventSink, LinkState, OutgoingSms, ReceivedSms};
use sms_bridge::bridge::Bridge;
use sms_bridge::config::{BackendKind, Config, Purpose, TestBackendConfig};
use sms_bridge::matrix::memory::SentEvent;
use sms_bridge::matrix::{MatrixApi, MatrixError, MemoryMatrix, RoomSpec};
use sms_bridge::store::{OutJob, Store};

pub const ALICE: &str = "@alice:example.org";
pub const CAROL: &str = "@carol:example.org";
pub const EVE: &str = "@eve:evil.org";
pub const BOT: &str = "@smsbot:example.org";
pub const OUR_NUMBER: &str = "+15550001111";
pub const BOB: &str = "+15551234567";
pub const BOB_GHOST: &str = "@sms_15551234567:example.org";
pub const BOB_DISPLAY: &str = "+1 555-123-4567";
pub const STATUS: &str = "com.beeper.message_send_status";

pub const CONFIG: &str = r#"
homeserver:
  address: http://localhost:8008
  domain: example.org
appservice:
  address: http://localhost:29330
  as_token: aaaa
  hs_token: bbbb
bridge:
  default_region: US
  permissions:
    "example.org": user
    "@alice:example.org": admin
backends:
  - id: test1
    type: test
    number: "+15550001111"
"#;

/// [`CONFIG`] with other test links (YAML list items under `backends:`).
pub fn config_with_links(links: &str) -> &'static str {
    let head = CONFIG.split_once("backends:\n").expect("CONFIG lists backends").0;
    Box::leak(format!("{head}backends:\n{links}").into_boxed_str())
}

/// One bridge process: its store on a file, a test link, and the shared memory homeserver.
pub struct Harness {
    pub config_text: &'static str,
    /// Every link, `backend` among them.
    pub links: Vec<Arc<TestBackend>>,
    pub dir: tempfile::TempDir,
    pub matrix: Arc<MemoryMatrix>,
    /// What the bridge talks to: `matrix` with scripted failures.
    pub flaky: Arc<Flaky>,
    pub bridge: Arc<Bridge>,
    pub backend: Arc<TestBackend>,
    pub backend_dyn: Arc<dyn Backend>,
    /// Alice's management room (a DM with the bot).
    pub mgmt: String,
    /// Keeps the link-state channel open, as `Bridge::start` would.
    pub _states: mpsc::UnboundedReceiver<(String, LinkState)>,
    /// What links asked to tell their owners ([`EventSink::warn`]), as `Bridge::start`
    /// would post them.
    pub warnings: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    /// Source of fresh transaction and event ids (continues across restarts, since the
    /// store remembers transaction ids).
    pub counter: Arc<AtomicU32>,
}

impl Harness {
    /// A bridge whose bot has been invited by Alice into her management room.
    pub async fn new() -> Harness {
        Harness::new_with(CONFIG).await
    }

    /// [`Harness::new`] with another configuration; every link in it is a test link.
    pub async fn new_with(config: &'static str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let matrix = Arc::new(MemoryMatrix::new("example.org"));
        // What `Bridge::start` does first: register the bot.
        matrix.register("smsbot").await.unwrap();
        // MemoryMatrix lets users join only rooms they were invited to, so the DM exists first.
        let spec = RoomSpec { creator: ALICE.into(), invite: vec![BOT.into()], is_direct: true, ..Default::default() };
        let mgmt = matrix.create_room(&spec).await.unwrap();
        let h = Harness::attach(config, dir, matrix, mgmt.clone(), Arc::default()).await;
        let invite = json!({
            "type": "m.room.member", "state_key": BOT, "sender": ALICE,
            "content": {"membership": "invite", "is_direct": true},
            "room_id": mgmt, "event_id": "$1",
        });
        assert!(h.transact(&[invite]));
        h.settle().await;
        assert!(h.matrix.members(&mgmt).contains(BOT), "the bot joined the management room");
        assert_eq!(h.bridge.store.management_room(ALICE).unwrap().as_deref(), Some(mgmt.as_str()));
        assert!(h.notices(&mgmt)[0].starts_with("Hello! This is your SMS bridge management room."));
        h
    }

    /// Opens the store in `dir` and builds a bridge with a fresh test link, its sink attached.
    pub async fn attach(
        config_text: &'static str,
        dir: tempfile::TempDir,
        matrix: Arc<MemoryMatrix>,
        mgmt: String,
        counter: Arc<AtomicU32>,
    ) -> Harness {
        let config = Config::parse(config_text, Purpose::Run).unwrap();
        let store = Store::open(&db_path(dir.path())).unwrap();
        // No control API or sent log: the test looks at `TestBackend::sent` directly.
        // Test links are kept as such so tests can look at them; other kinds (a modem on a
        // simulator) are built as the bridge builds them.
        let mut links: Vec<Arc<TestBackend>> = Vec::new();
        let mut dyns: Vec<Arc<dyn Backend>> = Vec::new();
        for b in &config.backends {
            if let BackendKind::Test(_) = b.kind {
                let link = Arc::new(TestBackend::new(&b.id, &b.number, TestBackendConfig::default()));
                links.push(link.clone());
                dyns.push(link);
            } else {
                dyns.push(sms_bridge::app::build_backend(&config, b));
            }
        }
        let flaky = Arc::new(Flaky { inner: matrix.clone(), faults: Mutex::default() });
        let bridge = Bridge::new(config, store.clone(), flaky.clone(), dyns.clone());
        let (tx, states) = mpsc::unbounded_channel();
        let (warn_tx, warnings) = mpsc::unbounded_channel();
        for link in &dyns {
            let sink = EventSink::new(link.id(), store.clone(), bridge.wake.inbox.clone(), tx.clone())
                .with_warnings(warn_tx.clone());
            link.clone().start(sink).await.unwrap();
        }
        let main = links.iter().position(|l| l.id() == "test1").unwrap_or(0);
        let backend = links[main].clone();
        let backend_dyn = dyns.iter().find(|d| d.id() == backend.id()).unwrap().clone();
        let warnings = Mutex::new(warnings);
        Harness {
            config_text,
            dir,
            matrix,
            flaky,
            bridge,
            backend,
            backend_dyn,
            links,
            mgmt,
            _states: states,
            warnings,
            counter,
        }
    }

    /// A new process on the same database and homeserver (the old one is dropped).
    pub async fn restart(self) -> Harness {
        let Harness { config_text, dir, matrix, mgmt, counter, .. } = self;
        Harness::attach(config_text, dir, matrix, mgmt, counter).await
    }

    /// Serves this bridge's gateway API on a free port; its base URL.
    pub async fn serve_api(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = sms_bridge::api::router(self.bridge.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    /// Runs the workers, with keyword services, applications' changes and callbacks, until
    /// `done` (for at most 10 s).
    pub async fn run_apps_until(&self, what: &str, done: impl Fn(&Harness) -> bool) {
        let end = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            self.make_due();
            self.settle().await;
            self.bridge.drain_service_calls().await.unwrap();
            self.bridge.drain_api_changes().await.unwrap();
            self.bridge.drain_callbacks().await.unwrap();
            if done(self) {
                return;
            }
            assert!(tokio::time::Instant::now() < end, "timed out waiting for {what}");
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
    }

    /// The warnings links gave since the last call.
    pub fn take_warnings(&self) -> Vec<String> {
        let mut rx = self.warnings.lock().unwrap();
        std::iter::from_fn(|| rx.try_recv().ok()).map(|(id, text)| format!("{id}: {text}")).collect()
    }

    pub fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Delivers events in a new appservice transaction.
    pub fn transact(&self, events: &[Value]) -> bool {
        let txn = format!("txn{}", self.next());
        self.bridge.accept_transaction(&txn, events).unwrap()
    }

    /// An `m.room.message` event with a fresh event id.
    pub fn message(&self, sender: &str, room: &str, content: Value) -> Value {
        json!({
            "type": "m.room.message", "sender": sender, "room_id": room,
            "event_id": format!("$m{}", self.next()), "origin_server_ts": 1, "content": content,
        })
    }

    /// Sends a message in its own transaction and runs the bridge until quiet; returns its id.
    pub async fn say(&self, sender: &str, room: &str, content: Value) -> String {
        let ev = self.message(sender, room, content);
        assert!(self.transact(std::slice::from_ref(&ev)));
        self.settle().await;
        ev["event_id"].as_str().unwrap().to_string()
    }

    pub async fn say_text(&self, sender: &str, room: &str, body: &str) -> String {
        self.say(sender, room, json!({"msgtype": "m.text", "body": body})).await
    }

    /// Runs every worker step in turn until a whole round changes nothing.
    pub async fn settle(&self) {
        let mut before = self.snapshot();
        for _ in 0..50 {
            self.bridge.handle_pending_events().await.unwrap();
            // Statuses go out while the link sends, as on a quiet bridge (so PENDING is
            // seen; under load a PENDING overtaken by SUCCESS is skipped, see below).
            self.bridge.send_matrix_jobs().await.unwrap();
            for link in self.bridge.backends.values() {
                self.bridge.send_due(link).await.unwrap();
            }
            self.bridge.drain_inbox().await.unwrap();
            self.bridge.send_matrix_jobs().await.unwrap();
            let after = self.snapshot();
            if after == before {
                return;
            }
            before = after;
        }
        panic!("the bridge did not settle");
    }

    pub fn snapshot(&self) -> impl PartialEq {
        (
            self.bridge.store.pending_events(1000).unwrap().len(),
            self.bridge.queue_counts().unwrap(),
            self.matrix.events().len(),
            self.matrix.receipts().len(),
            self.backend.sent().len(),
        )
    }

    /// A second connection to the database, to look at or nudge what the API does not expose.
    pub fn sql(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(db_path(self.dir.path())).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        c
    }

    /// A delivery report for one of our messages.
    pub fn report(&self, message_id: &str, status: DeliveryStatus, alt_ids: &[&str]) {
        let report = DeliveryReport {
            message_id: message_id.into(),
            status,
            detail: (status == DeliveryStatus::Failed).then(|| "UNDELIV err:001".into()),
            alt_ids: alt_ids.iter().map(|a| a.to_string()).collect(),
        };
        self.backend.report(report).unwrap();
    }

    /// Makes every retry due now instead of after its backoff.
    pub fn make_due(&self) {
        self.sql()
            .execute_batch(
                "UPDATE outbox SET next_attempt_at = 0 WHERE state = 'queued';
                 UPDATE inbox SET next_attempt_at = 0 WHERE state = 'new';
                 UPDATE matrix_out SET next_attempt_at = 0 WHERE state = 'new';
                 UPDATE matrix_in SET next_attempt_at = 0 WHERE state = 'new';",
            )
            .unwrap();
    }

    /// Runs the bridge's workers until `done` (for at most 20 s), a real link's own task
    /// working meanwhile; `context` says what to show when it times out.
    pub async fn run_until(&self, what: &str, done: impl Fn(&Harness) -> bool, context: impl Fn(&Harness) -> String) {
        let end = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            self.make_due();
            self.settle().await;
            if done(self) {
                return;
            }
            assert!(tokio::time::Instant::now() < end, "timed out waiting for {what}; {}", context(self));
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
    }

    /// `start <number>` in the management room; returns the portal's room.
    pub async fn start_chat(&self, number: &str, key: &str) -> String {
        self.say_text(ALICE, &self.mgmt, &format!("start {number}")).await;
        self.portal_room(key)
    }

    pub fn portal_room(&self, key: &str) -> String {
        let portal = self.bridge.store.portal_by_pair(OUR_NUMBER, key).unwrap().expect("portal exists");
        portal.room_id.expect("portal has a room")
    }

    pub fn job(&self, event_id: &str) -> OutJob {
        self.bridge.store.out_job_by_event(event_id).unwrap().expect("an outbox job")
    }

    /// Status events about `event_id`, in order; each is checked for its common shape.
    pub fn statuses(&self, event_id: &str) -> Vec<Value> {
        self.matrix
            .events()
            .into_iter()
            .filter(|e| e.event_type == STATUS && e.content["m.relates_to"]["event_id"] == event_id)
            .map(|e| {
                assert_eq!(e.sender, BOT);
                assert_eq!(e.content["m.relates_to"]["rel_type"], "m.reference");
                assert_eq!(e.content["network"], "sms");
                e.content
            })
            .collect()
    }

    pub fn status_names(&self, event_id: &str) -> Vec<String> {
        self.statuses(event_id).iter().map(|c| c["status"].as_str().unwrap().to_string()).collect()
    }

    /// Bodies of the bot's notices in a room.
    pub fn notices(&self, room: &str) -> Vec<String> {
        self.matrix
            .events_in(room)
            .into_iter()
            .filter(|e| e.sender == BOT && e.event_type == "m.room.message" && e.content["msgtype"] == "m.notice")
            .map(|e| e.content["body"].as_str().unwrap().to_string())
            .collect()
    }

    /// Messages a ghost posted in a room.
    pub fn ghost_messages(&self, room: &str, ghost: &str) -> Vec<SentEvent> {
        self.matrix
            .events_in(room)
            .into_iter()
            .filter(|e| e.sender == ghost && e.event_type == "m.room.message")
            .collect()
    }

    pub fn inbound(&self, from: &str, text: &str, timestamp_ms: Option<i64>) -> i64 {
        self.backend
            .inject(ReceivedSms { from: from.into(), to: String::new(), text: text.into(), timestamp_ms })
            .unwrap()
    }
}

/// How a scripted homeserver failure happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lose {
    /// The request never arrives.
    Request,
    /// The homeserver does it, but the answer is lost (a timeout after the fact).
    Response,
    /// The homeserver refuses it (403 M_FORBIDDEN): a failure of no known kind.
    Refused,
}

/// `MemoryMatrix` with one-shot failures of named calls, for the windows `set_down`
/// cannot hit (between creating a room and joining it, after a send took effect).
pub struct Flaky {
    pub inner: Arc<MemoryMatrix>,
    pub faults: Mutex<Vec<(&'static str, Lose)>>,
}

impl Flaky {
    pub fn fail_next(&self, method: &'static str, how: Lose) {
        self.faults.lock().unwrap().push((method, how));
    }

    pub async fn call<T>(
        &self,
        method: &str,
        call: impl Future<Output = Result<T, MatrixError>>,
    ) -> Result<T, MatrixError> {
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            let i = faults.iter().position(|(m, _)| *m == method);
            i.map(|i| faults.remove(i).1)
        };
        let lost = || MatrixError::network(format!("flaky: {method} lost"));
        match fault {
            None => call.await,
            Some(Lose::Request) => Err(lost()),
            Some(Lose::Response) => call.await.and_then(|_| Err(lost())),
            Some(Lose::Refused) => {
                Err(MatrixError::new(Some(403), Some("M_FORBIDDEN"), format!("flaky: {method} refused")))
            }
        }
    }
}

#[async_trait::async_trait]
impl MatrixApi for Flaky {
    async fn versions(&self) -> Result<Vec<String>, MatrixError> {
        self.call("versions", self.inner.versions()).await
    }
    async fn ping(&self, id: &str) -> Result<(), MatrixError> {
        self.call("ping", self.inner.ping(id)).await
    }
    async fn register(&self, localpart: &str) -> Result<(), MatrixError> {
        self.call("register", self.inner.register(localpart)).await
    }
    async fn set_displayname(&self, user: &str, name: &str) -> Result<(), MatrixError> {
        self.call("set_displayname", self.inner.set_displayname(user, name)).await
    }
    async fn download(&self, mxc: &str) -> Result<(Vec<u8>, Option<String>), MatrixError> {
        self.call("download", self.inner.download(mxc)).await
    }
    async fn upload(&self, sender: &str, content_type: &str, name: &str, data: Vec<u8>) -> Result<String, MatrixError> {
        self.call("upload", self.inner.upload(sender, content_type, name, data)).await
    }
    async fn default_room_version(&self) -> Result<String, MatrixError> {
        self.call("default_room_version", self.inner.default_room_version()).await
    }
    async fn create_room(&self, spec: &RoomSpec) -> Result<String, MatrixError> {
        self.call("create_room", self.inner.create_room(spec)).await
    }
    async fn resolve_alias(&self, alias: &str) -> Result<Option<String>, MatrixError> {
        self.call("resolve_alias", self.inner.resolve_alias(alias)).await
    }
    async fn join(&self, user: &str, room: &str) -> Result<(), MatrixError> {
        self.call("join", self.inner.join(user, room)).await
    }
    async fn invite(&self, sender: &str, room: &str, user: &str) -> Result<(), MatrixError> {
        self.call("invite", self.inner.invite(sender, room, user)).await
    }
    async fn leave(&self, user: &str, room: &str, reason: Option<&str>) -> Result<(), MatrixError> {
        self.call("leave", self.inner.leave(user, room, reason)).await
    }
    async fn send(
        &self,
        sender: &str,
        room: &str,
        txn: &str,
        event_type: &str,
        content: &Value,
        ts: Option<i64>,
    ) -> Result<String, MatrixError> {
        self.call("send", self.inner.send(sender, room, txn, event_type, content, ts)).await
    }
    async fn send_state(
        &self,
        sender: &str,
        room: &str,
        event_type: &str,
        state_key: &str,
        content: &Value,
    ) -> Result<String, MatrixError> {
        self.call("send_state", self.inner.send_state(sender, room, event_type, state_key, content)).await
    }
    async fn read_receipt(&self, sender: &str, room: &str, event_id: &str) -> Result<(), MatrixError> {
        self.call("read_receipt", self.inner.read_receipt(sender, room, event_id)).await
    }
    async fn recent_events(&self, user: &str, room: &str, limit: u32) -> Result<Vec<Value>, MatrixError> {
        self.call("recent_events", self.inner.recent_events(user, room, limit)).await
    }
    async fn set_account_data(&self, user: &str, event_type: &str, content: &Value) -> Result<(), MatrixError> {
        self.call("set_account_data", self.inner.set_account_data(user, event_type, content)).await
    }
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("bridge.db")
}

pub fn sms(job: &OutJob, text: &str) -> OutgoingSms {
    OutgoingSms::text(job.id, OUR_NUMBER, BOB, text)
}

/// Carol (a plain `user`) with her own management room.
pub async fn carol_management_room(h: &Harness) -> String {
    let spec = RoomSpec { creator: CAROL.into(), invite: vec![BOT.into()], is_direct: true, ..Default::default() };
    let room = h.matrix.create_room(&spec).await.unwrap();
    let invite = json!({
        "type": "m.room.member", "state_key": BOT, "sender": CAROL,
        "content": {"membership": "invite", "is_direct": true}, "room_id": room, "event_id": format!("$c{}", h.next()),
    });
    assert!(h.transact(&[invite]));
    h.settle().await;
    room
}

/// POSTs a message to the JSON API at `base` with a bearer `token`: the answer's status and body.
pub async fn api_send(base: &str, token: &str, to: &str, text: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(token)
        .json(&json!({ "to": to, "text": text }))
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}
