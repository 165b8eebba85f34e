//! `GET/POST /cgi-bin/sendsms`, as Kannel's smsbox answers it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::bridge::Bridge;
use crate::bridge::gateway::{ApiSend, SubmitError};
use crate::gateway::kannel::{Payload, SendsmsError, accepted_answer, parse_sendsms};
use crate::message::BinarySms;

pub(super) async fn get(State(bridge): State<Arc<Bridge>>, RawQuery(query): RawQuery) -> Response {
    super::blocking(move || handle(&bridge, query.unwrap_or_default().as_bytes())).await
}

pub(super) async fn post(State(bridge): State<Arc<Bridge>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    // Kannel takes the parameters from the query, or from a form body.
    let raw = match query {
        Some(q) if !q.is_empty() => q.into_bytes(),
        _ => body.to_vec(),
    };
    super::blocking(move || handle(&bridge, &raw)).await
}

fn answer((status, text): (u16, String)) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("Content-Type", "text/html; charset=UTF-8")], text).into_response()
}

fn handle(bridge: &Bridge, raw: &[u8]) -> Response {
    let req = match parse_sendsms(raw) {
        Ok(r) => r,
        Err(e) => return answer(e.answer()),
    };
    let Some(gateway) = &bridge.config.gateway else { return answer(SendsmsError::Authorization.answer()) };
    let user =
        gateway.user(&req.user).filter(|u| u.password.as_deref().is_some_and(|p| super::same_secret(p, &req.password)));
    let Some(user) = user else {
        tracing::warn!(user = %req.user, "sendsms: authorization failed");
        return answer(SendsmsError::Authorization.answer());
    };
    // Accepted by Kannel, not carried by this bridge's links yet: refused rather than
    // silently dropped.
    let unsupported = [
        // A header goes with 8-bit data (coding=1); text after one is not built yet.
        ("UDH", !req.udh.is_empty() && matches!(req.payload, Payload::Text(_))),
        ("PID", req.pid.is_some()),
        ("MWI", req.mwi.is_some()),
        ("RPI", req.rpi.is_some()),
        ("Alt-DCS", req.alt_dcs.is_some()),
        ("Compress", req.compress == Some(true)),
    ];
    if let Some((name, _)) = unsupported.iter().find(|(_, given)| *given) {
        return answer(SendsmsError::Unsupported(name).answer());
    }
    let (text, binary) = match &req.payload {
        Payload::Text(t) => (t.clone(), None),
        Payload::Binary(data) => (String::new(), Some(BinarySms { udh: req.udh.clone(), data: data.clone() })),
    };
    // Every recipient is checked before any is queued: a client retrying a refused request
    // must not send the first ones twice. (What else can refuse one refuses all alike.)
    let region = bridge.config.bridge.default_region.as_deref();
    let unusable: Vec<&str> = req
        .recipients
        .iter()
        .filter(|to| crate::phone::Address::parse_cached(to, region).destination.is_none())
        .map(String::as_str)
        .collect();
    if !unusable.is_empty() {
        return answer((400, format!("Not numbers SMS can go to: {}; nothing was sent", unusable.join(" "))));
    }
    // `deferred` and `validity` are minutes, as in Kannel; the validity counts from the
    // deferred time.
    let send_at = req.deferred_minutes.map(|m| crate::store::now_ms() + m as i64 * 60_000);
    // "3: Queued for later delivery", as Kannel answers when the SMSC is not connected
    // (and, here, when it is deferred).
    let mut later = req.deferred_minutes.is_some_and(|m| m > 0);
    let mut sends = Vec::with_capacity(req.recipients.len());
    for to in &req.recipients {
        let send = ApiSend {
            link: req.smsc.clone(),
            to: to.clone(),
            text: text.clone(),
            dlr_mask: req.dlr_mask.unwrap_or(0),
            dlr_url: req.dlr_url.clone(),
            from: req.from.clone(),
            class: req.mclass,
            binary: binary.clone(),
            ..ApiSend::default()
        }
        .schedule(send_at, req.validity_minutes);
        match send {
            Ok(s) => sends.push(s),
            Err(e) => return refused(e),
        }
    }
    // All recipients in one commit: a refused or failed request sent none of them.
    let queued = match bridge.submit_all(user, &sends) {
        Ok(q) => q,
        Err(e) => return refused(e),
    };
    later |= queued.iter().any(|s| !bridge.link_up(&s.link));
    answer(accepted_answer(later, queued.len()))
}

/// The answer to a request that was not queued.
fn refused(e: SubmitError) -> Response {
    match e {
        SubmitError::Forbidden(why) => answer((403, format!("Forbidden: {why}"))),
        SubmitError::Refused(why) => answer((400, why)),
        SubmitError::Bridge(e) => {
            tracing::error!(error = %e, "sendsms: could not queue the message");
            answer(SendsmsError::TemporaryFailure.answer())
        }
    }
}
