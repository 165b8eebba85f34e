//! A stub homeserver for benchmarks: answers the client-server calls `HttpMatrix` makes
//! with minimal 200s and counts what it gets. Shared by the bench binaries.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

pub const DOMAIN: &str = "bench.test";

#[derive(Default)]
pub struct StubStats {
    pub requests: AtomicU64,
    /// `m.room.message` sends of relayed SMS (txn `sms-in-*`), first time per txn id.
    pub sms_in: AtomicU64,
    /// Repeated `sms-in-*` txn ids (a real homeserver would deduplicate them).
    pub duplicates: AtomicU64,
    /// Other `m.room.message` sends (notices, reference sends).
    pub other_messages: AtomicU64,
    /// `com.beeper.message_send_status` sends.
    pub statuses: AtomicU64,
    pub rooms: AtomicU64,
    pub registers: AtomicU64,
    pub pings: AtomicU64,
    pub capabilities: AtomicU64,
    pub unknown: AtomicU64,
    /// Inbox ids of the `sms-in-{id}` txns seen.
    pub seen_txns: Mutex<HashSet<u64>>,
    /// Off unless a bench turns it on: record the body of every `m.room.message` send.
    #[allow(dead_code)]
    pub record_texts: AtomicBool,
    /// With `record_texts`: body → the txn id of each send that carried it, repeats included.
    #[allow(dead_code)]
    pub texts: Mutex<HashMap<String, Vec<String>>>,
    /// `sms-in-*` txn ids the stub finished answering (after `reply_delay_ms`): a repeat of
    /// one of these is a resend after a response that left the stub.
    #[allow(dead_code)]
    pub answered: Mutex<HashSet<u64>>,
    /// Repeated `sms-in-*` txn ids whose first send had been answered.
    #[allow(dead_code)]
    pub repeats_after_answer: AtomicU64,
    /// Milliseconds an `sms-in-*` send waits after it is counted and before it is answered,
    /// so that a kill can fall between the two (as a homeserver can die after persisting an
    /// event and before replying).
    #[allow(dead_code)]
    pub reply_delay_ms: AtomicU64,
    /// Off unless a bench turns it on: record when each `m.room.message` body first
    /// arrived (the handler's first instruction, once axum has read the request).
    #[allow(dead_code)]
    pub record_arrivals: AtomicBool,
    /// With `record_arrivals`: body → its first arrival. A bench removes what it has read.
    #[allow(dead_code)]
    pub arrivals: Mutex<HashMap<String, Instant>>,
    /// With `record_arrivals`: notified (`notify_one`, so a permit waits if nobody does)
    /// after each arrival is recorded.
    #[allow(dead_code)]
    pub arrived: tokio::sync::Notify,
}

pub type Stub = Arc<StubStats>;

fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

async fn stub_versions(State(s): State<Stub>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    ok(json!({ "versions": ["v1.11", "v1.12"], "unstable_features": {} }))
}

async fn stub_register(State(s): State<Stub>, Json(body): Json<Value>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    s.registers.fetch_add(1, Ordering::Relaxed);
    let user = body["username"].as_str().unwrap_or("someone");
    ok(json!({ "user_id": format!("@{user}:{DOMAIN}") }))
}

async fn stub_empty(State(s): State<Stub>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    ok(json!({}))
}

async fn stub_capabilities(State(s): State<Stub>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    s.capabilities.fetch_add(1, Ordering::Relaxed);
    ok(
        json!({ "capabilities": { "m.room_versions": { "default": "12", "available": { "11": "stable", "12": "stable" } } } }),
    )
}

async fn stub_create_room(State(s): State<Stub>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let n = s.rooms.fetch_add(1, Ordering::Relaxed) + 1;
    ok(json!({ "room_id": format!("!room{n}:{DOMAIN}") }))
}

async fn stub_alias(State(s): State<Stub>, UrlPath(alias): UrlPath<String>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    ok(json!({ "room_id": format!("!alias_{}:{DOMAIN}", alias.len()), "servers": [DOMAIN] }))
}

async fn stub_join(State(s): State<Stub>, UrlPath(room): UrlPath<String>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    ok(json!({ "room_id": room }))
}

async fn stub_send(
    State(s): State<Stub>,
    UrlPath((_room, event_type, txn)): UrlPath<(String, String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let at = Instant::now();
    let n = s.requests.fetch_add(1, Ordering::Relaxed);
    if event_type == "m.room.message" && s.record_arrivals.load(Ordering::Relaxed) {
        let text = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["body"].as_str().map(str::to_string))
            .unwrap_or_default();
        s.arrivals.lock().unwrap().entry(text).or_insert(at);
        s.arrived.notify_one();
    }
    if event_type == "m.room.message" && s.record_texts.load(Ordering::Relaxed) {
        let text = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["body"].as_str().map(str::to_string))
            .unwrap_or_default();
        s.texts.lock().unwrap().entry(text).or_default().push(txn.clone());
    }
    match event_type.as_str() {
        "m.room.message" if txn.starts_with("sms-in-") => {
            let id = txn["sms-in-".len()..].parse().unwrap_or(u64::MAX);
            if s.seen_txns.lock().unwrap().insert(id) {
                s.sms_in.fetch_add(1, Ordering::Release);
            } else {
                s.duplicates.fetch_add(1, Ordering::Relaxed);
                if s.answered.lock().unwrap().contains(&id) {
                    s.repeats_after_answer.fetch_add(1, Ordering::Relaxed);
                }
            }
            let delay = s.reply_delay_ms.load(Ordering::Relaxed);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                s.answered.lock().unwrap().insert(id);
            }
        }
        "m.room.message" => {
            s.other_messages.fetch_add(1, Ordering::Release);
        }
        "com.beeper.message_send_status" => {
            s.statuses.fetch_add(1, Ordering::Release);
        }
        _ => {}
    }
    ok(json!({ "event_id": format!("$stub{n}") }))
}

async fn stub_state(State(s): State<Stub>) -> Response {
    let n = s.requests.fetch_add(1, Ordering::Relaxed);
    ok(json!({ "event_id": format!("$state{n}") }))
}

async fn stub_ping(State(s): State<Stub>) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    s.pings.fetch_add(1, Ordering::Release);
    ok(json!({ "duration_ms": 1 }))
}

async fn stub_unknown(State(s): State<Stub>, req: axum::extract::Request) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    if s.unknown.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("stub homeserver: unexpected {} {}", req.method(), req.uri().path());
    }
    (StatusCode::NOT_FOUND, Json(json!({ "errcode": "M_UNRECOGNIZED", "error": "stub" }))).into_response()
}

fn stub_router(stats: Stub) -> Router {
    const C: &str = "/_matrix/client/v3";
    Router::new()
        .route("/_matrix/client/versions", get(stub_versions))
        .route(&format!("{C}/register"), post(stub_register))
        .route(&format!("{C}/profile/{{user}}/displayname"), put(stub_empty))
        .route(&format!("{C}/capabilities"), get(stub_capabilities))
        .route(&format!("{C}/createRoom"), post(stub_create_room))
        .route(&format!("{C}/directory/room/{{alias}}"), get(stub_alias))
        .route(&format!("{C}/rooms/{{room}}/join"), post(stub_join))
        .route(&format!("{C}/join/{{room}}"), post(stub_join))
        .route(&format!("{C}/rooms/{{room}}/invite"), post(stub_empty))
        .route(&format!("{C}/rooms/{{room}}/leave"), post(stub_empty))
        .route(&format!("{C}/rooms/{{room}}/send/{{type}}/{{txn}}"), put(stub_send))
        .route(&format!("{C}/rooms/{{room}}/state/{{type}}"), put(stub_state))
        .route(&format!("{C}/rooms/{{room}}/state/{{type}}/{{key}}"), put(stub_state))
        .route(&format!("{C}/rooms/{{room}}/receipt/{{rtype}}/{{event}}"), post(stub_empty))
        .route(&format!("{C}/user/{{user}}/account_data/{{type}}"), put(stub_empty))
        .route("/_matrix/client/v1/appservice/{id}/ping", post(stub_ping))
        .fallback(stub_unknown)
        .with_state(stats)
}

/// A running stub homeserver; dropping it stops the server and its thread.
pub struct StubServer {
    pub addr: SocketAddr,
    #[allow(dead_code)]
    pub stats: Stub,
    _stop: tokio::sync::oneshot::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StubServer {
    /// Stops it abruptly and waits until it is gone: its runtime is dropped with every
    /// connection task in it, so requests in flight get no answer and the port is free.
    /// The counters live in `stats` and survive.
    #[allow(dead_code)]
    pub fn kill(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Starts a stub homeserver on its own thread (single-threaded runtime), so its work is
/// not scheduled on the bridge's two workers.
#[allow(dead_code)]
pub fn start_stub() -> StubServer {
    start_stub_on(Stub::default(), 0).expect("stub: bind")
}

/// Starts a stub homeserver counting into `stats` on `port` (0: any free port); None if
/// the port cannot be bound.
pub fn start_stub_on(stats: Stub, port: u16) -> Option<StubServer> {
    let app = stub_router(stats.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("stub-homeserver".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("stub runtime");
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => l,
                    Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                };
                tx.send(Some(listener.local_addr().expect("stub: address"))).expect("stub: report address");
                tokio::select! {
                    r = axum::serve(listener, app) => r.expect("stub: serve"),
                    _ = stopped => {}
                }
            });
        })
        .expect("stub thread");
    let addr = rx.recv().expect("stub started")?;
    Some(StubServer { addr, stats, _stop: stop, thread: Some(thread) })
}
