//! The control API for scripts and tests, on its own loopback port so it stays up while
//! the "router" reboots. JSON in and out, whatever the Content-Type:
//!
//! - `POST /sms {"from","text","sms_type"?,"date"?}`: an SMS (any SmsType text, e.g. 9, 42, "x").
//! - `POST /long {"from","text","parts"?}`: a long message growing part by part (SmsType 2).
//! - `POST /report {"to","delivered"}`: a delivery report (SmsType 7 or 8).
//! - `POST /mms {"from","url","shape":"file"|"url","sms_type"?}`: an MMS notification.
//! - `POST /fault {"fault":"error=125003x2"}` (`"none"` clears them).
//! - `GET /state`: boxes, sends as they arrived, counters, sessions, 100005 rejections.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::state::{Incoming, State};
use super::{Fault, HilinkSim, MmsShape};

pub(super) fn spawn(state: Arc<State>, listener: TcpListener) {
    let app = Router::new()
        .route("/sms", post(sms))
        .route("/long", post(long))
        .route("/report", post(report))
        .route("/mms", post(mms))
        .route("/fault", post(fault))
        .route("/state", get(snapshot))
        .with_state(HilinkSim { state });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("hilink-sim: control API: {e}");
        }
    });
}

type Answer = (StatusCode, Json<Value>);

fn bad(e: impl ToString) -> Answer {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": e.to_string() })))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(bad)
}

fn stored(index: Option<i64>) -> Answer {
    (StatusCode::OK, Json(json!({ "index": index, "held_back": index.is_none() })))
}

/// A number or a string, so garbled types can be given.
fn type_text(v: &Option<Value>, default: &str) -> String {
    match v {
        None | Some(Value::Null) => default.into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[derive(Deserialize)]
struct SmsReq {
    from: String,
    text: String,
    sms_type: Option<Value>,
    date: Option<String>,
}

async fn sms(Shared(sim): Shared<HilinkSim>, body: Bytes) -> Answer {
    let r: SmsReq = match parse(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let m = Incoming { sms_type: type_text(&r.sms_type, "1"), date: r.date, ..Incoming::sms(&r.from, &r.text) };
    stored(sim.inject(m))
}

#[derive(Deserialize)]
struct LongReq {
    from: String,
    text: String,
    parts: Option<usize>,
}

async fn long(Shared(sim): Shared<HilinkSim>, body: Bytes) -> Answer {
    match parse::<LongReq>(&body) {
        Ok(r) => stored(sim.inject_long(&r.from, &r.text, r.parts.unwrap_or(3))),
        Err(a) => a,
    }
}

#[derive(Deserialize)]
struct ReportReq {
    to: String,
    delivered: bool,
}

async fn report(Shared(sim): Shared<HilinkSim>, body: Bytes) -> Answer {
    match parse::<ReportReq>(&body) {
        Ok(r) => stored(sim.inject_report(&r.to, r.delivered)),
        Err(a) => a,
    }
}

#[derive(Deserialize)]
struct MmsReq {
    from: String,
    url: String,
    shape: Option<String>,
    sms_type: Option<Value>,
}

async fn mms(Shared(sim): Shared<HilinkSim>, body: Bytes) -> Answer {
    let r: MmsReq = match parse(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let shape: MmsShape = match r.shape.as_deref().unwrap_or("file").parse() {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    stored(sim.inject_mms(&r.from, &r.url, shape, &type_text(&r.sms_type, "5")))
}

#[derive(Deserialize)]
struct FaultReq {
    fault: String,
}

async fn fault(Shared(sim): Shared<HilinkSim>, body: Bytes) -> Answer {
    let r: FaultReq = match parse(&body) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if r.fault.trim() == "none" {
        sim.clear_faults();
        return (StatusCode::OK, Json(json!({ "fault": "none" })));
    }
    match r.fault.parse::<Fault>() {
        Ok(f) => {
            sim.set_fault(&f);
            (StatusCode::OK, Json(json!({ "fault": f.to_string() })))
        }
        Err(e) => bad(e),
    }
}

async fn snapshot(Shared(sim): Shared<HilinkSim>) -> Json<Value> {
    Json(json!(sim.snapshot()))
}
