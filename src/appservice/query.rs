//! `GET /_matrix/app/v1/users/{userId}` and `GET /_matrix/app/v1/rooms/{roomAlias}`.
//! <https://spec.matrix.org/v1.16/application-service-api/#get_matrixappv1usersuserid>

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::matrix_error;
use crate::bridge::Bridge;

/// 200 (and the ghost registered) for a phone number in our namespace, 404 otherwise.
pub(super) async fn user(State(bridge): State<Arc<Bridge>>, Path(user_id): Path<String>) -> Response {
    tracing::debug!(%user_id, "user query from the homeserver");
    match bridge.query_user(&user_id).await {
        Ok(true) => Json(json!({})).into_response(),
        Ok(false) => matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "No such phone number"),
        Err(e) => {
            tracing::warn!(%user_id, error = %e, "user query failed");
            matrix_error(StatusCode::INTERNAL_SERVER_ERROR, "M_UNKNOWN", &e.to_string())
        }
    }
}

/// Portals are opened with `start`, never by joining an alias.
pub(super) async fn room(Path(_alias): Path<String>) -> Response {
    matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "Start SMS chats with the bot's start command")
}
