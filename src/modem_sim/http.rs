//! The HTTP API for scripts (loopback only):
//!
//! - `POST /sms {"from":"+1555…","text":"…"}`: an SMS from the network.
//! - `POST /wap-push {"from":"+1555…","hex":"0106…"}`: a WAP push (WSP bytes) to port 2948.
//! - `POST /fault {"fault":"cms=331x2"}` (`"none"` clears them), names as on the command line.
//! - `GET /sent`: the messages clients sent; `GET /stored`: the storage; `GET /commands`:
//!   every AT command line received.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::state::State;
use super::{Fault, network};
use crate::sms::tpdu;

pub(super) async fn serve(state: Arc<State>, addr: SocketAddr) -> std::io::Result<()> {
    let listener =
        TcpListener::bind(addr).await.map_err(|e| std::io::Error::new(e.kind(), format!("--http {addr}: {e}")))?;
    *state.http_addr.lock().unwrap() = listener.local_addr().ok();
    let app = Router::new()
        .route("/sms", post(sms))
        .route("/wap-push", post(wap_push))
        .route("/fault", post(fault))
        .route("/sent", get(sent))
        .route("/stored", get(stored))
        .route("/commands", get(commands))
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("modem-sim: HTTP API: {e}");
        }
    });
    Ok(())
}

type Answer = (StatusCode, Json<Value>);

fn bad(e: impl ToString) -> Answer {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": e.to_string() })))
}

/// The body as JSON whatever its Content-Type, so a bare `curl -d '{…}'` works.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(bad)
}

#[derive(Deserialize)]
struct Sms {
    from: String,
    text: String,
}

async fn sms(Shared(state): Shared<Arc<State>>, body: Bytes) -> Answer {
    let req: Sms = match parse(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    match network::inject_sms(&state, &req.from, &req.text) {
        Ok(()) => (StatusCode::OK, Json(json!({ "ok": true }))),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct Push {
    from: String,
    hex: String,
}

async fn wap_push(Shared(state): Shared<Arc<State>>, body: Bytes) -> Answer {
    let req: Push = match parse(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let bytes = match tpdu::from_hex(&req.hex) {
        Ok(b) => b,
        Err(e) => return bad(format!("hex: {e}")),
    };
    match network::inject_wap_push(&state, &req.from, &bytes) {
        Ok(()) => (StatusCode::OK, Json(json!({ "ok": true }))),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct FaultReq {
    fault: String,
}

async fn fault(Shared(state): Shared<Arc<State>>, body: Bytes) -> Answer {
    let req: FaultReq = match parse(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if req.fault.trim() == "none" {
        state.clear_faults();
        return (StatusCode::OK, Json(json!({ "fault": "none" })));
    }
    match req.fault.parse::<Fault>() {
        Ok(f) => {
            state.set_fault(&f);
            (StatusCode::OK, Json(json!({ "fault": f.to_string() })))
        }
        Err(e) => bad(e),
    }
}

async fn sent(Shared(state): Shared<Arc<State>>) -> Json<Value> {
    Json(json!(state.inner.lock().unwrap().sent))
}

async fn stored(Shared(state): Shared<Arc<State>>) -> Json<Value> {
    Json(json!(state.inner.lock().unwrap().storage.snapshot()))
}

async fn commands(Shared(state): Shared<Arc<State>>) -> Json<Value> {
    Json(json!(state.inner.lock().unwrap().commands))
}
