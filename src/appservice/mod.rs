//! The Application Service API: what the homeserver calls on us.
//! <https://spec.matrix.org/v1.16/application-service-api/>

pub(crate) mod auth;
mod ping;
mod query;
mod transactions;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::json;

use crate::bridge::Bridge;

/// A Matrix-style error answer: `{"errcode", "error"}`.
pub(crate) fn matrix_error(status: StatusCode, errcode: &str, error: &str) -> Response {
    (status, axum::Json(json!({ "errcode": errcode, "error": error }))).into_response()
}

pub fn router(bridge: Arc<Bridge>) -> Router {
    let api = Router::new()
        .route("/_matrix/app/v1/transactions/{txn_id}", put(transactions::put))
        .route("/_matrix/app/v1/users/{user_id}", get(query::user))
        .route("/_matrix/app/v1/rooms/{alias}", get(query::room))
        .route("/_matrix/app/v1/ping", post(ping::ping))
        // Paths from before the spec added /_matrix/app/v1; some homeservers still use them.
        .route("/transactions/{txn_id}", put(transactions::put))
        .route("/users/{user_id}", get(query::user))
        .route("/rooms/{alias}", get(query::room))
        .route_layer(axum::middleware::from_fn_with_state(bridge.clone(), auth::require_hs_token))
        // A transaction holds up to 100 events of up to 64 KiB, plus ephemeral events;
        // refusing one would make the homeserver resend it forever.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(bridge);
    Router::new()
        .merge(api)
        .route("/health", get(|| async { "OK" }))
        .fallback(|| async { matrix_error(StatusCode::NOT_FOUND, "M_UNRECOGNIZED", "Unrecognized request") })
}
