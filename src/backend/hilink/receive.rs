//! One poll of the inbox: the notifications; when something is unread (or now and then),
//! the counts and every page of the list, each message committed and only then deleted (or
//! marked read).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::HilinkBackend;
use super::incoming::{Incoming, classify, fingerprint, message_id_prefix, mms_push};
use super::router::{Router, Trouble};
use crate::backend::{DeliveryReport, DeliveryStatus, EventSink, Received, ReceivedSms};
use crate::hilink::sms::{MAX_READ_COUNT, list_from};
use crate::hilink::xml::{Field, request};
use crate::hilink::{ListRequest, Message};

/// Most pages read in one poll (50 messages each): more than any router stores.
const MAX_PAGES: u32 = 30;
/// How long a delivery report waits on the router for the record of its send.
const REPORT_PATIENCE: Duration = Duration::from_secs(600);

/// What polls remember between each other.
#[derive(Default)]
pub(super) struct PollMemory {
    /// Long messages still arriving: their content when first seen this way, and since when.
    assembling: HashMap<i64, (String, Instant)>,
    /// Reports that matched no send yet: since when.
    unmatched: HashMap<String, Instant>,
    /// Ids given to reports this run, so two reports never take the same send.
    matched: Vec<String>,
    /// Messages whose commit or delete failed: tried again next poll, logged once.
    failing: HashMap<String, String>,
    /// Listings that could not be read, told once each.
    unreadable: Vec<String>,
    storage_full: bool,
    nearly_full: bool,
    /// When the inbox is next read whatever the notifications say; None: at the next poll.
    next_full_read: Option<Instant>,
    /// The last full read left messages on the router (not yet taken, or not removed).
    left_behind: bool,
}

impl PollMemory {
    /// The next poll reads the counts and the inbox whatever the notifications say (a new
    /// session: anything may have changed meanwhile).
    pub(super) fn read_all_next(&mut self) {
        self.next_full_read = None;
    }
}

pub(super) async fn poll(
    b: &HilinkBackend,
    router: &mut Router,
    sink: &EventSink,
    memory: &mut PollMemory,
) -> Result<usize, Trouble> {
    // Only saves work and tells about storage: a firmware without it has its inbox read
    // on every poll.
    let notes = optional(router.get("/api/monitoring/check-notifications").await)?;
    let note = |name: &str| notes.as_ref()?.text_of(name).and_then(|v| v.trim().parse::<u64>().ok());
    let full = note("SmsStorageFull") == Some(1);
    // An idle poll is this one request. Nothing unread is not always nothing to do: a
    // message read in the router's web page is not unread (and is still bridged unless
    // keep_on_router), and the storage numbers change with sends; so the inbox is also
    // read every refresh_interval, after a new session, and while a message waits.
    let quiet = note("UnreadMessage") == Some(0)
        && full == memory.storage_full
        && !memory.left_behind
        && memory.assembling.is_empty()
        && memory.next_full_read.is_some_and(|at| Instant::now() < at);
    if quiet {
        return Ok(0);
    }
    let counts = optional(router.get("/api/sms/sms-count").await)?;
    let number = |name: &str| counts.as_ref()?.text_of(name).and_then(|v| v.trim().parse::<u64>().ok());
    let (inbox, unread) = (number("LocalInbox"), number("LocalUnread"));
    let (outbox, max) = (number("LocalOutbox").unwrap_or(0), number("LocalMax"));
    storage_warnings(b, sink, memory, full, inbox.unwrap_or(0) + outbox, max);
    b.set_storage(inbox, outbox, max, full);
    let waiting = if b.cfg.keep_on_router { unread } else { inbox };
    if waiting == Some(0) && memory.assembling.is_empty() {
        memory.left_behind = false;
        memory.next_full_read = Some(Instant::now() + b.refresh_interval());
        return Ok(0);
    }
    let messages = list_all(router, sink, memory).await?;
    let (mut taken, mut handled) = (0, 0);
    for m in messages {
        if b.cfg.keep_on_router && m.smstat == Some(1) {
            continue;
        }
        taken += 1;
        if handle(b, router, sink, memory, &m).await? {
            handled += 1;
        }
    }
    let listed: Vec<i64> = memory.assembling.keys().copied().collect();
    for index in listed {
        if memory.assembling.get(&index).is_some_and(|(_, since)| since.elapsed() > Duration::from_secs(3600)) {
            memory.assembling.remove(&index);
        }
    }
    memory.left_behind = handled < taken;
    memory.next_full_read = Some(Instant::now() + b.refresh_interval());
    Ok(handled)
}

/// Every page of the inbox, oldest first. Deleting while paging would shift the pages,
/// so the list is read whole first.
async fn list_all(router: &mut Router, sink: &EventSink, memory: &mut PollMemory) -> Result<Vec<Message>, Trouble> {
    let mut all: Vec<Message> = Vec::new();
    for page in 1..=MAX_PAGES {
        let req = ListRequest { page_index: page, ..ListRequest::default() };
        let answer = router.post("/api/sms/sms-list", req.to_xml().into_bytes()).await?;
        let list = list_from(&answer).map_err(|e| Trouble::Failed(format!("sms-list: {e}")))?;
        for e in &list.unreadable {
            let e = e.to_string();
            if !memory.unreadable.contains(&e) {
                sink.warn(&format!(
                    "the router lists a message the bridge cannot read ({e}); it stays on the router, see its web page"
                ));
                memory.unreadable.push(e);
            }
        }
        let got = list.messages.len() + list.unreadable.len();
        for m in list.messages {
            if !all.iter().any(|a| a.index == m.index) {
                all.push(m);
            }
        }
        if got < MAX_READ_COUNT as usize || all.len() as u64 >= list.count {
            break;
        }
    }
    Ok(all)
}

/// One message: committed (unless seen before), then removed from the router's list.
/// Ok(false): left on the router for a later poll.
async fn handle(
    b: &HilinkBackend,
    router: &mut Router,
    sink: &EventSink,
    memory: &mut PollMemory,
    m: &Message,
) -> Result<bool, Trouble> {
    let print = fingerprint(m);
    let timestamp_ms = m.date.map(|d| b.router_time_ms(&d));
    let mut incoming = classify(m);
    if incoming == Incoming::Assembling {
        let (content, since) = memory.assembling.entry(m.index).or_insert_with(|| (m.content.clone(), Instant::now()));
        if *content != m.content {
            *content = m.content.clone();
            *since = Instant::now();
        }
        if since.elapsed() < Duration::from_secs(b.cfg.multipart_wait) {
            return Ok(false);
        }
        tracing::info!(index = m.index, "a long message stayed unchanged; taking it as complete");
        let from = m.phones.first().cloned().unwrap_or_else(|| "unknown".into());
        incoming = Incoming::Sms { from, text: m.content.clone() };
    }
    memory.assembling.remove(&m.index);
    if m.phones.len() > 1 {
        tracing::warn!(index = m.index, phones = ?m.phones, "a message listed with several numbers; the first is taken as the sender");
    }
    let what = match incoming {
        Incoming::Sms { from, text } => {
            Some(Received::Sms(ReceivedSms { from, to: String::new(), text, timestamp_ms }))
        }
        Incoming::Mms { from, location, shown } => {
            tracing::info!(index = m.index, %from, %shown, %location, "an MMS notification as the router shows it");
            match mms_push(&from, &location, m) {
                Ok(data) => Some(Received::WapPush(crate::backend::WapPush { from, to: String::new(), data })),
                Err(e) => {
                    tracing::warn!(index = m.index, error = %e, "could not pass on an MMS notification; shown as text");
                    let text = format!("(an MMS notification the bridge could not pass on: {shown})");
                    Some(Received::Sms(ReceivedSms { from, to: String::new(), text, timestamp_ms }))
                }
            }
        }
        Incoming::Report { .. } if !b.cfg.delivery_reports => None,
        Incoming::Report { phone, delivered, text } => match report(sink, memory, &print, &phone, delivered, &text) {
            Some(r) => Some(Received::Report(r)),
            None if memory.unmatched.get(&print).is_some_and(|t| t.elapsed() < REPORT_PATIENCE) => return Ok(false),
            None => {
                tracing::info!(index = m.index, %phone, "a delivery report for no message waiting for one; removed");
                None
            }
        },
        Incoming::Assembling => unreachable!("handled above"),
    };
    if let Some(what) = what {
        match sink.once(&print, what) {
            Ok(new) => {
                if !new {
                    tracing::info!(
                        index = m.index,
                        "a message seen before (read again after a restart); not shown twice"
                    );
                }
            }
            Err(e) => {
                if memory.failing.insert(print.clone(), e.to_string()).is_none() {
                    tracing::error!(index = m.index, error = %e, "could not commit a received message; it stays on the router");
                }
                return Ok(false);
            }
        }
    }
    memory.unmatched.remove(&print);
    memory.failing.remove(&print);
    remove(b, router, m.index).await
}

/// A report as the core wants it, naming the oldest send to that number still waiting for
/// one; None while no such send is known (the record of the send may not be written yet).
fn report(
    sink: &EventSink,
    memory: &mut PollMemory,
    print: &str,
    phone: &str,
    delivered: bool,
    text: &str,
) -> Option<DeliveryReport> {
    let id = match sink.awaiting_report(&message_id_prefix(phone), &memory.matched) {
        Ok(Some(id)) => id,
        Ok(None) => {
            memory.unmatched.entry(print.to_string()).or_insert_with(Instant::now);
            return None;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not look up the message a delivery report is about");
            memory.unmatched.entry(print.to_string()).or_insert_with(Instant::now);
            return None;
        }
    };
    memory.matched.push(id.clone());
    if memory.matched.len() > 1000 {
        memory.matched.drain(..500);
    }
    let status = if delivered { DeliveryStatus::Delivered } else { DeliveryStatus::Failed };
    let detail = (!text.trim().is_empty()).then(|| text.trim().to_string());
    Some(DeliveryReport { message_id: id, status, detail, alt_ids: Vec::new() })
}

/// Deletes a committed message, or marks it read with `keep_on_router`. Ok(false): it is
/// still there.
async fn remove(b: &HilinkBackend, router: &mut Router, index: i64) -> Result<bool, Trouble> {
    let (path, what) =
        if b.cfg.keep_on_router { ("/api/sms/set-read", "mark") } else { ("/api/sms/delete-sms", "delete") };
    let body = request(&[Field::text("Index", index)]);
    match router.post(path, body.into_bytes()).await {
        Ok(_) => Ok(true),
        // Committed already: a failed delete is tried again on the next poll, and the
        // fingerprint keeps the message from being shown twice.
        Err(t @ (Trouble::Failed(_) | Trouble::Busy(_))) => {
            tracing::warn!(index, error = %t, "could not {what} a bridged message on the router; trying again later");
            Ok(false)
        }
        Err(t) => Err(t),
    }
}

/// A call whose failure is no reason to stop the poll: None then, unless the router is gone.
fn optional(r: Result<crate::hilink::Element, Trouble>) -> Result<Option<crate::hilink::Element>, Trouble> {
    match r {
        Ok(e) => Ok(Some(e)),
        Err(t @ (Trouble::Failed(_) | Trouble::Busy(_))) => {
            tracing::debug!(error = %t, "an optional call failed");
            Ok(None)
        }
        Err(t) => Err(t),
    }
}

/// Tells the owner once when the router's storage is full or nearly so: a full router
/// stops receiving.
fn storage_warnings(
    b: &HilinkBackend,
    sink: &EventSink,
    memory: &mut PollMemory,
    full: bool,
    used: u64,
    max: Option<u64>,
) {
    let nearly = max.is_some_and(|m| m > 0 && used * 10 >= m * 9);
    if full && !memory.storage_full {
        sink.warn(&format!(
            "the router's SMS storage is full ({used} of {} messages): it receives nothing more until messages are deleted{}.",
            max.map_or("?".into(), |m| m.to_string()),
            if b.cfg.keep_on_router { " (keep_on_router is on: delete old messages in the router's web page)" } else { "" }
        ));
    } else if nearly && !full && !memory.nearly_full {
        sink.warn(&format!(
            "the router's SMS storage is nearly full ({used} of {} messages).",
            max.unwrap_or_default()
        ));
    }
    memory.storage_full = full;
    memory.nearly_full = nearly;
}
