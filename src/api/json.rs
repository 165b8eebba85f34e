//! The JSON API: `POST /api/v1/messages` and `GET /api/v1/messages/{id}`, with bearer
//! tokens per user.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::bridge::Bridge;
use crate::bridge::gateway::{ApiSend, SubmitError};
use crate::config::GatewayUser;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SendRequest {
    to: String,
    text: String,
    via: Option<String>,
    callback_url: Option<String>,
    client_ref: Option<String>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn user<'a>(bridge: &'a Bridge, headers: &HeaderMap) -> Option<&'a GatewayUser> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
    let g = bridge.config.gateway.as_ref()?;
    g.users.iter().find(|u| u.token.as_deref().is_some_and(|t| super::same_secret(t, token.trim())))
}

pub(super) async fn send(State(bridge): State<Arc<Bridge>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(user) = user(&bridge, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is needed");
    };
    let req: SendRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not a message: {e}")),
    };
    if let Some(url) = &req.callback_url
        && !matches!(reqwest::Url::parse(url).map(|u| u.scheme().to_string()).as_deref(), Ok("http" | "https"))
    {
        return error(StatusCode::BAD_REQUEST, "callback_url must be an http(s) URL");
    }
    let send = ApiSend {
        link: req.via,
        to: req.to,
        text: req.text,
        callback_url: req.callback_url,
        client_ref: req.client_ref,
        ..ApiSend::default()
    };
    match bridge.submit(user, &send) {
        Ok(s) => {
            (StatusCode::ACCEPTED, Json(json!({ "id": s.id, "via": s.link, "parts": s.parts, "encoding": s.encoding })))
                .into_response()
        }
        Err(SubmitError::Forbidden(why)) => error(StatusCode::FORBIDDEN, &why),
        Err(SubmitError::Refused(why)) => error(StatusCode::UNPROCESSABLE_ENTITY, &why),
        Err(SubmitError::Bridge(e)) => {
            tracing::error!(error = %e, "api: could not queue the message");
            error(StatusCode::SERVICE_UNAVAILABLE, "could not queue the message; try again")
        }
    }
}

pub(super) async fn status(State(bridge): State<Arc<Bridge>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let Some(user) = user(&bridge, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is needed");
    };
    let m = match bridge.store.api_message(id) {
        Ok(Some(m)) if m.user == user.username => m,
        Ok(_) => return error(StatusCode::NOT_FOUND, "no such message of yours"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let job = bridge.store.out_job(m.outbox_id).ok().flatten();
    let parts = bridge.store.api_parts(m.outbox_id).unwrap_or_default();
    let parts: Vec<_> =
        parts.iter().map(|(n, id, state)| json!({ "part": n, "link_id": id, "state": state })).collect();
    Json(json!({
        "id": m.id,
        "to": m.destination,
        "via": m.backend_id,
        "status": job.as_ref().map(|j| j.state.as_str()).unwrap_or(m.state.as_str()),
        "client_ref": m.client_ref,
        "parts": parts,
        "created_at": m.created_at,
    }))
    .into_response()
}
