//! The SMS calls: list, count, delete, set-read, notifications, send and send-status.

use std::time::Instant;

use super::api::{Reply, Req, f, format_error};
use super::state::{Inner, Send, SentRecord, Sms, State};
use crate::hilink::cesu8;
use crate::hilink::sms::{MAX_PHONES, MAX_READ_COUNT};
use crate::hilink::xml::{Element, Field, ok_response_body, parse};

/// The order B525s-23a firmwares insist on.
const LIST_FIELDS: [&str; 6] = ["PageIndex", "ReadCount", "BoxType", "SortType", "Ascending", "UnreadPreferred"];
const SEND_FIELDS: [&str; 7] = ["Index", "Phones", "Sca", "Content", "Length", "Reserved", "Date"];

fn names(e: &Element) -> Vec<&str> {
    e.children.iter().map(|c| c.name.as_str()).collect()
}

fn number(e: &Element, name: &str) -> Option<i64> {
    e.text_of(name)?.trim().parse().ok()
}

/// The request's `<request>` with exactly these fields in this order, or why not.
fn fields_in_order(body: &[u8], expected: &[&str]) -> Result<Element, String> {
    let e = parse(body).map_err(|e| format!("not XML: {e}"))?;
    if e.name != "request" {
        return Err(format!("root <{}>, not <request>", e.name));
    }
    if names(&e) != expected {
        return Err(format!("fields {:?}, expected {expected:?}", names(&e)));
    }
    Ok(e)
}

fn message(m: &Sms) -> Field {
    Field::Group(
        "Message",
        vec![
            f("Smstat", m.smstat),
            f("Index", m.index),
            f("Phone", &m.phone),
            f("Content", &m.content),
            f("Date", &m.date),
            f("Sca", &m.sca),
            f("SaveType", m.save_type),
            f("Priority", m.priority),
            f("SmsType", &m.sms_type),
        ],
    )
}

/// `POST /api/sms/sms-list`.
pub(super) fn list(state: &State, inner: &mut Inner, req: &Req) -> Reply {
    let e = match fields_in_order(req.body, &LIST_FIELDS) {
        Ok(e) => e,
        Err(why) => return format_error(state, inner, req, &why),
    };
    let (page, count) = (number(&e, "PageIndex").unwrap_or(0), number(&e, "ReadCount").unwrap_or(0));
    if page < 1 || !(1..=MAX_READ_COUNT as i64).contains(&count) {
        return format_error(state, inner, req, "PageIndex < 1 or ReadCount not 1..50");
    }
    let mut boxed: Vec<&Sms> = match number(&e, "BoxType") {
        Some(1) => inner.inbox.iter().collect(),
        Some(2) => inner.sent.iter().collect(),
        _ => Vec::new(),
    };
    // Indices grow with arrival, so index order is date order.
    boxed.sort_by_key(|m| m.index);
    if number(&e, "Ascending") != Some(1) {
        boxed.reverse();
    }
    if number(&e, "UnreadPreferred") == Some(1) {
        boxed.sort_by_key(|m| m.smstat != 0);
    }
    let total = boxed.len();
    let page: Vec<Field> =
        boxed.into_iter().skip(((page - 1) * count) as usize).take(count as usize).map(message).collect();
    Reply::fields(&[Field::text("Count", total), Field::Group("Messages", page)])
}

/// Every `<Index>` of a delete-sms or set-read request.
fn indices(state: &State, inner: &mut Inner, req: &Req) -> Result<Vec<i64>, Reply> {
    let bad = |inner: &mut Inner, why: &str| Err(format_error(state, inner, req, why));
    let Ok(e) = parse(req.body) else { return bad(inner, "not XML") };
    if e.children.is_empty() || names(&e).iter().any(|n| *n != "Index") {
        return bad(inner, "expected <Index> fields only");
    }
    match e.children.iter().map(|c| c.text.trim().parse()).collect::<Result<Vec<i64>, _>>() {
        Ok(v) => Ok(v),
        Err(_) => bad(inner, "<Index> not a number"),
    }
}

/// `POST /api/sms/delete-sms`: unknown indices are answered OK, as routers do.
pub(super) fn delete(state: &State, inner: &mut Inner, req: &Req) -> Reply {
    let list = match indices(state, inner, req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    for i in list {
        let before = inner.inbox.len() + inner.sent.len();
        inner.inbox.retain(|m| m.index != i);
        inner.sent.retain(|m| m.index != i);
        if inner.inbox.len() + inner.sent.len() < before {
            inner.deleted.push(i);
        }
    }
    Reply::xml(ok_response_body())
}

/// `POST /api/sms/set-read`.
pub(super) fn set_read(state: &State, inner: &mut Inner, req: &Req) -> Reply {
    let list = match indices(state, inner, req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    for m in inner.inbox.iter_mut().filter(|m| list.contains(&m.index)) {
        m.smstat = 1;
    }
    Reply::xml(ok_response_body())
}

fn unread(inner: &Inner) -> usize {
    inner.inbox.iter().filter(|m| m.smstat == 0).count()
}

/// `GET /api/sms/sms-count`: everything is in local storage; the SIM holds nothing.
pub(super) fn count(state: &State, inner: &Inner) -> Reply {
    Reply::fields(&[
        f("LocalUnread", unread(inner)),
        f("LocalInbox", inner.inbox.len()),
        f("LocalOutbox", inner.sent.len()),
        f("LocalDraft", 0),
        f("LocalDeleted", 0),
        f("SimUnread", 0),
        f("SimInbox", 0),
        f("SimOutbox", 0),
        f("SimDraft", 0),
        f("LocalMax", state.opts.local_max),
        f("SimMax", 30),
        f("SimUsed", 0),
        f("NewMsg", unread(inner)),
    ])
}

/// `GET /api/monitoring/check-notifications`.
pub(super) fn notifications(state: &State, inner: &Inner) -> Reply {
    Reply::fields(&[
        Field::text("UnreadMessage", unread(inner)),
        Field::text("SmsStorageFull", inner.storage_full(&state.opts) as u8),
        Field::text("OnlineUpdateStatus", 10),
    ])
}

/// `POST /api/sms/send-sms`: the body is read as CESU-8 (UTF-16 firmwares garble 4-byte
/// UTF-8); one send at a time.
pub(super) fn send(state: &State, inner: &mut Inner, req: &Req) -> Reply {
    if inner.sending.is_some() {
        return Reply::error(113018);
    }
    let decoded = cesu8::decode(req.body);
    let e = match fields_in_order(decoded.text.as_bytes(), &SEND_FIELDS) {
        Ok(e) => e,
        Err(why) => return format_error(state, inner, req, &why),
    };
    let phones_el = e.child("Phones").expect("checked by fields_in_order");
    let phones: Vec<String> = phones_el.children.iter().map(|p| p.text.trim().to_string()).collect();
    let only_phones = names(phones_el).iter().all(|n| *n == "Phone");
    if !only_phones || phones.is_empty() || phones.len() > MAX_PHONES || phones.iter().any(String::is_empty) {
        return format_error(state, inner, req, "Phones must hold 1 to 50 non-empty <Phone>");
    }
    let text = |n: &str| e.text_of(n).unwrap_or_default().to_string();
    let fail = inner.send_fail > 0;
    inner.send_fail = inner.send_fail.saturating_sub(1);
    inner.sent_records.push(SentRecord {
        phones: phones.clone(),
        content: text("Content"),
        length: text("Length"),
        reserved: text("Reserved"),
        sca: text("Sca"),
        date: text("Date"),
        body_hex: req.body.iter().map(|b| format!("{b:02x}")).collect(),
        surrogate_pairs: decoded.surrogate_pairs,
        four_byte_utf8: decoded.four_byte,
        result: "sending".into(),
    });
    state.say(format!("hilink-sim: sending to {}: {}", phones.join(";"), text("Content")));
    let record = inner.sent_records.len() - 1;
    // Until the send starts, send-status still shows the previous one (`status_lag`).
    let started_at = Instant::now() + state.opts.status_lag;
    inner.sending = Some(Send { phones, fail, started_at, done_at: started_at + state.opts.send_delay, record });
    Reply::xml(ok_response_body())
}

/// `GET /api/sms/send-status`: `Phone` holds who is still being sent to; a send not yet
/// started shows the previous one's result.
pub(super) fn send_status(inner: &Inner) -> Reply {
    let started = inner.sending.as_ref().filter(|s| s.started_at <= Instant::now());
    let (total, cur, phone, suc, fail) = match (started, &inner.last_send) {
        (Some(s), _) => (s.phones.len(), 0, s.phones.join(";"), String::new(), String::new()),
        (None, Some((p, failed))) => {
            let list = p.join(";");
            let (suc, fail) = if *failed { (String::new(), list) } else { (list, String::new()) };
            (p.len(), p.len(), String::new(), suc, fail)
        }
        (None, None) => (0, 0, String::new(), String::new(), String::new()),
    };
    Reply::fields(&[
        f("TotalCount", total),
        f("CurIndex", cur),
        f("Phone", phone),
        f("SucPhone", suc),
        f("FailPhone", fail),
    ])
}
