//! The JSON API: `POST /api/v1/messages` and `GET /api/v1/messages/{id}`, with bearer
//! tokens per user.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bridge::Bridge;
use crate::bridge::gateway::{ApiSend, SubmitError};
use crate::config::GatewayUser;

/// `POST /api/v1/messages`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SendRequest {
    /// The recipient: E.164 (`+447700900123`), or national with the bridge's default region.
    to: String,
    text: String,
    /// The link to send through; default: the user's `default_link`, or the only link.
    via: Option<String>,
    /// Our number to send from: the link's own (default) or one of its `numbers`.
    from: Option<String>,
    /// When to send it, RFC 3339 (`2026-06-01T08:00:00Z`); at most a year ahead. Until
    /// then it holds up no other message to the same person.
    send_at: Option<String>,
    /// How long the network may keep trying to deliver it, from when it is sent (1 to
    /// 635040, 63 weeks); it is not sent at all once that has passed. Links that cannot
    /// carry it (HiLink) refuse the message.
    validity_minutes: Option<u32>,
    /// Message class 0-3; 0 is a flash SMS. Links that cannot carry it refuse the message.
    class: Option<u8>,
    /// Each change of state is POSTed here, signed (`X-Timestamp`, `X-Signature`).
    callback_url: Option<String>,
    /// Your reference, echoed in callbacks and the status.
    client_ref: Option<String>,
}

/// The answer to a send: the message is committed and will be sent.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct Accepted {
    id: i64,
    via: String,
    /// SMS parts the text takes.
    parts: usize,
    /// `gsm7`, `ucs2` or `8bit`.
    encoding: &'static str,
}

/// `GET /api/v1/messages/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct MessageStatus {
    id: i64,
    to: String,
    via: String,
    /// `queued`, `sending`, `sent`, `delivered`, `failed` or `dead` (not sent in time).
    status: String,
    client_ref: Option<String>,
    parts: Vec<PartStatus>,
    /// Unix milliseconds.
    created_at: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct PartStatus {
    part: u8,
    /// The link's id for the part.
    link_id: String,
    state: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct ErrorBody {
    error: String,
}

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(ErrorBody { error: message.into() })).into_response()
}

pub(super) fn user<'a>(bridge: &'a Bridge, headers: &HeaderMap) -> Option<&'a GatewayUser> {
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
    let send_at = match req.send_at.as_deref().map(str::parse::<jiff::Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(t.as_millisecond()),
        Some(Err(_)) => {
            return error(StatusCode::BAD_REQUEST, "send_at is not an RFC 3339 time such as 2026-06-01T08:00:00Z");
        }
    };
    let send = ApiSend {
        link: req.via,
        from: req.from,
        to: req.to,
        text: req.text,
        callback_url: req.callback_url,
        client_ref: req.client_ref,
        class: req.class,
        ..ApiSend::default()
    }
    .schedule(send_at, req.validity_minutes);
    let user = user.clone();
    super::blocking(move || submit(&bridge, &user, send)).await
}

fn submit(bridge: &Bridge, user: &GatewayUser, send: Result<ApiSend, SubmitError>) -> Response {
    match send.and_then(|send| bridge.submit(user, &send)) {
        Ok(s) => {
            let accepted = Accepted { id: s.id, via: s.link, parts: s.parts, encoding: s.encoding };
            (StatusCode::ACCEPTED, Json(accepted)).into_response()
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
    let parts = parts.into_iter().map(|(part, link_id, state)| PartStatus { part, link_id, state }).collect();
    let status = job.as_ref().map(|j| j.state.as_str().to_string()).unwrap_or(m.state);
    Json(MessageStatus {
        id: m.id,
        to: m.destination,
        via: m.backend_id,
        status,
        client_ref: m.client_ref,
        parts,
        created_at: m.created_at,
    })
    .into_response()
}

/// `POST /api/v1/questions`: sent when no other question to that number is outstanding;
/// the next SMS from it is the answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QuestionRequest {
    to: String,
    text: String,
    /// Seconds to wait for the answer once asked; then the question expires.
    timeout: u64,
    via: Option<String>,
    /// Told when it is answered or expires (signed like message callbacks).
    callback_url: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct QuestionAccepted {
    id: i64,
}

/// `GET /api/v1/questions/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct QuestionStatus {
    id: i64,
    to: String,
    via: String,
    /// `waiting` (another question to that number is outstanding), `asked`, `answered`,
    /// `expired`, or `failed` (the link would not send it).
    status: String,
    answer: Option<String>,
    /// Unix milliseconds.
    asked_at: Option<i64>,
    expires_at: Option<i64>,
    answered_at: Option<i64>,
}

pub(super) async fn ask(State(bridge): State<Arc<Bridge>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(user) = user(&bridge, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is needed");
    };
    let req: QuestionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not a question: {e}")),
    };
    let timeout = std::time::Duration::from_secs(req.timeout);
    match bridge.ask(user, req.via.as_deref(), &req.to, &req.text, timeout, req.callback_url.as_deref()) {
        Ok(id) => (StatusCode::ACCEPTED, Json(QuestionAccepted { id })).into_response(),
        Err(SubmitError::Forbidden(why)) => error(StatusCode::FORBIDDEN, &why),
        Err(SubmitError::Refused(why)) => error(StatusCode::UNPROCESSABLE_ENTITY, &why),
        Err(SubmitError::Bridge(e)) => {
            tracing::error!(error = %e, "api: could not queue the question");
            error(StatusCode::SERVICE_UNAVAILABLE, "could not queue the question; try again")
        }
    }
}

pub(super) async fn question(State(bridge): State<Arc<Bridge>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let Some(user) = user(&bridge, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is needed");
    };
    match bridge.store.question(id) {
        Ok(Some(q)) if q.user == user.username => Json(QuestionStatus {
            id: q.id,
            to: q.destination,
            via: q.backend_id,
            status: q.state,
            answer: q.answer,
            asked_at: q.asked_at,
            expires_at: q.expires_at,
            answered_at: q.answered_at,
        })
        .into_response(),
        Ok(_) => error(StatusCode::NOT_FOUND, "no such question of yours"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
