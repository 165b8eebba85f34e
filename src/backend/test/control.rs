//! The test link's control API on loopback: a script plays the phones and the network.
//!
//! - `POST /inject {"from", "text", "to"?, "timestamp_ms"?}` → 200 `{"inbox_id"}` once committed
//! - `POST /report {"message_id", "status": "delivered"|"failed"|"pending", "detail"?}`
//! - `POST /fault {"faults": ["transient", "permanent", …]}` — outcomes of the next sends
//! - `POST /state {"state": "connected"|"reconnecting"|…, "reason"?}`
//! - `GET /sent` — what this process sent

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Fault, TestBackend};
use crate::backend::{DeliveryReport, LinkState, ReceivedSms};

type Reply = (StatusCode, Json<Value>);

fn answer(r: Result<Value, String>) -> Reply {
    match r {
        Ok(v) => (StatusCode::OK, Json(v)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e }))),
    }
}

pub(super) async fn serve(backend: Arc<TestBackend>, addr: &str) -> Result<(), String> {
    let app = Router::new()
        .route("/inject", post(inject))
        .route("/report", post(report))
        .route("/fault", post(fault))
        .route("/state", post(state))
        .route("/sent", get(sent))
        .with_state(backend);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("test link control API: cannot listen on {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}

async fn inject(State(b): State<Arc<TestBackend>>, Json(sms): Json<ReceivedSms>) -> Reply {
    answer(b.inject(sms).map(|id| json!({ "inbox_id": id })))
}

async fn report(State(b): State<Arc<TestBackend>>, Json(r): Json<DeliveryReport>) -> Reply {
    answer(b.report(r).map(|id| json!({ "inbox_id": id })))
}

#[derive(serde::Deserialize)]
struct Faults {
    faults: Vec<Fault>,
}

async fn fault(State(b): State<Arc<TestBackend>>, Json(f): Json<Faults>) -> Reply {
    b.push_faults(&f.faults);
    answer(Ok(json!({})))
}

async fn state(State(b): State<Arc<TestBackend>>, Json(s): Json<LinkState>) -> Reply {
    answer(b.set_state(s).map(|_| json!({})))
}

async fn sent(State(b): State<Arc<TestBackend>>) -> Reply {
    answer(Ok(serde_json::to_value(b.sent()).unwrap_or_default()))
}
