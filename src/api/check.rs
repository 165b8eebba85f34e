//! `POST /api/v1/check`: a dry run of a send. It says what the bridge would do with a
//! message (link, sender, encoding, parts, the rule that would refuse it), sending and
//! committing nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::json::{error, user};
use crate::bridge::Bridge;
use crate::bridge::gateway::{ApiSend, SubmitError};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckRequest {
    /// The recipient, as for a send.
    to: String,
    text: String,
    /// The link; default: the user's `default_link`, or the only link.
    via: Option<String>,
    /// Our number to send from: the link's own (default) or one of its `numbers`.
    from: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct CheckAnswer {
    /// Whether a send of this message now would be accepted.
    would_send: bool,
    /// The rule or reason that would refuse it, e.g. "not sent: +44… is in GB, which is
    /// not in policy.countries.allow".
    refused: Option<String>,
    via: String,
    /// The link's kind (`smpp`, `modem`, `hilink`, `test`).
    kind: String,
    link_connected: bool,
    /// Our number (the conversation's).
    from: String,
    /// What the phone would show as the sender (policy may set one per country).
    sender: String,
    /// The destination as it would be sent; empty when not a number.
    to: String,
    /// `gsm7`, `ucs2` or `8bit`; empty when refused before it was worked out.
    encoding: String,
    parts: usize,
}

pub(super) async fn post(State(bridge): State<Arc<Bridge>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(user) = user(&bridge, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is needed");
    };
    let req: CheckRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not a message: {e}")),
    };
    let link = match bridge.user_link(user, req.via.as_deref()) {
        Ok(l) => l,
        Err(SubmitError::Forbidden(why)) => return error(StatusCode::FORBIDDEN, &why),
        Err(e) => {
            let refused = Some(e.to_string());
            let via = req.via.unwrap_or_default();
            let answer = CheckAnswer { would_send: false, refused, via, ..CheckAnswer::empty() };
            return Json(answer).into_response();
        }
    };
    let send = ApiSend { link: Some(link.clone()), to: req.to, text: req.text, from: req.from, ..ApiSend::default() };
    // Counting the number's recent messages reads the database: off the async workers,
    // within the API's share of blocking threads.
    super::blocking(move || answer(bridge.plan(&link, &send))).await
}

fn answer(plan: crate::bridge::policy::Plan) -> Response {
    Json(CheckAnswer {
        would_send: plan.refusal.is_none(),
        refused: plan.refusal,
        via: plan.link,
        kind: plan.kind.into(),
        link_connected: plan.link_up,
        from: plan.from,
        sender: plan.sender,
        to: plan.to,
        encoding: plan.encoding.into(),
        parts: plan.parts,
    })
    .into_response()
}

impl CheckAnswer {
    fn empty() -> CheckAnswer {
        CheckAnswer {
            would_send: false,
            refused: None,
            via: String::new(),
            kind: String::new(),
            link_connected: false,
            from: String::new(),
            sender: String::new(),
            to: String::new(),
            encoding: String::new(),
            parts: 0,
        }
    }
}
