//! The HTTP API for scripts (loopback only):
//!
//! - `POST /inject {"from":"+1555…","to":"+1555…","text":"…"}` (`to` optional): an SMS from a
//!   phone. 200 `{"sequence_numbers":[…]}` once the client acknowledged every part; 503 if no
//!   client is bound to receive, 400 for bad input, 502 if refused, 504 if never answered.
//! - `GET /messages`: the submits received, long ones joined.
//! - `POST /fault {"kind":"throttle"|"queue_full"|"reject"|"drop"|"silence","count":N}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Fault, InjectError, Message, State};

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/inject", post(inject))
        .route("/messages", get(messages))
        .route("/fault", post(fault))
        .with_state(state)
}

#[derive(Deserialize)]
struct Inject {
    from: String,
    to: Option<String>,
    text: String,
}

type Answer = (StatusCode, Json<Value>);

/// The body as JSON whatever its Content-Type, so a bare `curl -d '{…}'` works.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, Json(json!({ "error": e.to_string() }))))
}

async fn inject(Shared(state): Shared<Arc<State>>, body: Bytes) -> Answer {
    let req: Inject = match parse(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    match state.inject(&req.from, req.to.as_deref(), &req.text).await {
        Ok(seqs) => (StatusCode::OK, Json(json!({ "sequence_numbers": seqs }))),
        Err(e) => {
            let code = match e {
                InjectError::NoReceiver => StatusCode::SERVICE_UNAVAILABLE,
                InjectError::Invalid(_) => StatusCode::BAD_REQUEST,
                InjectError::Failed(_) => StatusCode::BAD_GATEWAY,
                InjectError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            };
            (code, Json(json!({ "error": e.to_string() })))
        }
    }
}

async fn messages(Shared(state): Shared<Arc<State>>) -> Json<Vec<Message>> {
    Json(state.messages.lock().unwrap().list().to_vec())
}

async fn fault(Shared(state): Shared<Arc<State>>, body: Bytes) -> Answer {
    let f: Fault = match parse(&body) {
        Ok(f) => f,
        Err(a) => return a,
    };
    state.set_fault(f);
    (StatusCode::OK, Json(json!({ "fault": f.to_string() })))
}
