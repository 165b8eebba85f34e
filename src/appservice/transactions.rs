//! `PUT /_matrix/app/v1/transactions/{txnId}` — events pushed by the homeserver.
//! <https://spec.matrix.org/v1.16/application-service-api/#put_matrixappv1transactionstxnid>
//!
//! Answered 200 only after the events are committed; a retried transaction id is
//! answered 200 without storing anything again.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::matrix_error;
use crate::bridge::Bridge;

pub(super) async fn put(
    State(bridge): State<Arc<Bridge>>,
    Path(txn_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return matrix_error(StatusCode::BAD_REQUEST, "M_NOT_JSON", &format!("transaction {txn_id}: {e}")),
    };
    let Some(events) = parsed["events"].as_array() else {
        return matrix_error(StatusCode::BAD_REQUEST, "M_BAD_JSON", "transaction without an events list");
    };
    match bridge.accept_transaction(&txn_id, events) {
        Ok(fresh) => {
            if !fresh {
                tracing::debug!(%txn_id, "transaction seen before; not processed again");
            }
            Json(json!({})).into_response()
        }
        Err(e) => {
            // 500 makes the homeserver retry the same transaction later: nothing is lost.
            tracing::error!(%txn_id, error = %e, "could not store a transaction");
            matrix_error(StatusCode::INTERNAL_SERVER_ERROR, "M_UNKNOWN", "could not store the transaction")
        }
    }
}
