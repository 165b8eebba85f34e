//! The link's life: connect (tokens, login), poll until something breaks, wait as the
//! trouble asks (a wrong password slowly, a lockout long), and connect again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::receive::{PollMemory, poll};
use super::router::{Router, Trouble};
use super::{HilinkBackend, Status};
use crate::backend::{Backend, EventSink, LinkState};
use crate::hilink::xml::Element;

/// A wrong password is tried again this rarely at most: routers lock logins after a few.
const BAD_CREDENTIALS_DELAY: Duration = Duration::from_secs(300);
const LOCKED_OUT_DELAY: Duration = Duration::from_secs(1800);
const TOO_MANY_SESSIONS_DELAY: Duration = Duration::from_secs(60);

pub(super) async fn run(b: Arc<HilinkBackend>, sink: EventSink) {
    let mut memory = PollMemory::default();
    let mut backoff = Duration::from_secs(b.cfg.reconnect_min_delay);
    loop {
        if stopped(&b) {
            return;
        }
        let connected = {
            let mut router = b.router.lock().await;
            match router.connect().await {
                Ok(()) => refresh_status(&b, &sink, &mut router).await,
                Err(t) => Err(t),
            }
        };
        if let Err(t) = connected {
            let delay = trouble(&b, &sink, &t, backoff);
            backoff = (backoff * 2).min(Duration::from_secs(b.cfg.reconnect_max_delay));
            if wait(&b, delay).await {
                return;
            }
            continue;
        }
        backoff = Duration::from_secs(b.cfg.reconnect_min_delay);
        tracing::info!(backend = %b.id, router = %b.cfg.url, details = ?b.details(), "HiLink router ready");
        let t = serve(&b, &sink, &mut memory).await;
        let Some(t) = t else { return };
        let delay = trouble(&b, &sink, &t, backoff);
        b.router.lock().await.forget();
        if wait(&b, delay).await {
            return;
        }
    }
}

fn stopped(b: &HilinkBackend) -> bool {
    b.state() == LinkState::Stopped
}

/// Sleeps, or returns true at once when the link is stopped.
async fn wait(b: &HilinkBackend, delay: Duration) -> bool {
    tokio::select! {
        _ = b.stop.notified() => true,
        _ = tokio::time::sleep(delay) => stopped(b),
    }
}

/// Polls until the session breaks (the trouble) or the link stops (None).
async fn serve(b: &Arc<HilinkBackend>, sink: &EventSink, memory: &mut PollMemory) -> Option<Trouble> {
    let interval = Duration::from_secs_f64(b.cfg.poll_interval);
    // What `backends` shows (SIM, signal, model) was read on connecting.
    let mut next_status = Instant::now() + b.refresh_interval();
    memory.read_all_next();
    let mut last_failure: Option<String> = None;
    loop {
        if stopped(b) {
            return None;
        }
        let result = {
            let mut router = b.router.lock().await;
            let mut r = poll(b, &mut router, sink, memory).await.map(|_| ());
            if r.is_ok() && (Instant::now() >= next_status || b.state() != LinkState::Connected) {
                r = refresh_status(b, sink, &mut router).await;
                next_status = Instant::now() + b.refresh_interval();
            }
            r
        };
        match result {
            Ok(()) => last_failure = None,
            Err(Trouble::Busy(e)) => {
                tracing::debug!(backend = %b.id, error = %e, "the router is busy; polling again later")
            }
            Err(Trouble::Failed(e)) => {
                // One odd answer stops nothing: the next poll tries again.
                if last_failure.as_deref() != Some(&e) {
                    tracing::warn!(backend = %b.id, error = %e, "poll failed; trying again");
                }
                last_failure = Some(e);
            }
            Err(t) => return Some(t),
        }
        if wait(b, interval).await {
            return None;
        }
    }
}

/// The state a trouble puts the link in, and how long to wait before connecting again.
fn trouble(b: &HilinkBackend, sink: &EventSink, t: &Trouble, backoff: Duration) -> Duration {
    let (state, delay) = match t {
        Trouble::Unreachable(e) => (LinkState::Reconnecting { reason: format!("router unreachable: {e}") }, backoff),
        Trouble::BadCredentials(e) => (
            LinkState::BadCredentials { reason: format!("{e}; check username and password") },
            BAD_CREDENTIALS_DELAY.max(Duration::from_secs(b.cfg.reconnect_max_delay)),
        ),
        Trouble::LockedOut(e) => (
            LinkState::BadCredentials {
                reason: format!(
                    "{e}; the router refuses logins for a while, the bridge waits 30 minutes before trying again"
                ),
            },
            LOCKED_OUT_DELAY,
        ),
        Trouble::TooManySessions(e) => (
            LinkState::Reconnecting { reason: format!("{e}; waiting for the router to free a session") },
            TOO_MANY_SESSIONS_DELAY.max(backoff),
        ),
        Trouble::Busy(e) => (LinkState::Reconnecting { reason: format!("router busy: {e}") }, backoff),
        Trouble::Failed(e) => (LinkState::Reconnecting { reason: e.clone() }, backoff),
    };
    tracing::warn!(backend = %b.id, %state, retry_in = ?delay, "HiLink link down");
    b.set_state(sink, state);
    delay
}

/// Reads model, SIM, network and signal; the link is connected, or not ready (no SIM, no
/// signal) while the router cannot carry SMS.
async fn refresh_status(b: &HilinkBackend, sink: &EventSink, router: &mut Router) -> Result<(), Trouble> {
    let mut status = Status { storage: b.status.lock().unwrap().storage.clone(), ..Status::default() };
    // Optional calls: firmwares differ, and none of them decides whether SMS work.
    if let Ok(info) = router.get("/api/device/information").await {
        status.model = text(&info, "DeviceName");
    }
    let monitoring = match router.get("/api/monitoring/status").await {
        Ok(m) => Some(m),
        Err(t @ (Trouble::Unreachable(_) | Trouble::BadCredentials(_) | Trouble::LockedOut(_))) => return Err(t),
        Err(_) => None,
    };
    if let Ok(signal) = router.get("/api/device/signal").await {
        status.signal = ["rssi", "rsrp", "sinr"]
            .iter()
            .filter_map(|k| Some(format!("{} {}", k.to_uppercase(), non_empty(text(&signal, k))?)))
            .collect::<Vec<_>>()
            .join(" ");
    }
    if let Ok(plmn) = router.get("/api/net/current-plmn").await {
        status.network = non_empty(text(&plmn, "FullName")).unwrap_or_default();
    }
    let problem = monitoring.as_ref().and_then(not_ready);
    *b.status.lock().unwrap() = status;
    b.set_state(sink, problem.map_or(LinkState::Connected, |reason| LinkState::NotReady { reason }));
    Ok(())
}

/// What in `/api/monitoring/status` keeps SMS from working, if anything.
fn not_ready(m: &Element) -> Option<String> {
    let sim = text(m, "SimStatus");
    if !sim.is_empty() && sim != "1" {
        return Some(format!("the router sees no usable SIM (SimStatus {sim})"));
    }
    let icon = text(m, "SignalIcon");
    if icon == "0" {
        return Some("the router has no signal".into());
    }
    None
}

fn text(e: &Element, name: &str) -> String {
    e.text_of(name).unwrap_or_default().trim().to_string()
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}
