//! `POST /_matrix/app/v1/ping` — the homeserver checking it can reach us.
//! <https://spec.matrix.org/v1.16/application-service-api/#post_matrixappv1ping>

use axum::Json;
use serde_json::{Value, json};

pub(super) async fn ping(body: Option<Json<Value>>) -> Json<Value> {
    let txn = body.as_ref().and_then(|b| b["transaction_id"].as_str()).unwrap_or("");
    tracing::debug!(transaction_id = txn, "ping from the homeserver");
    Json(json!({}))
}
