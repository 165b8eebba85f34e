//! `type: hilink`: a Huawei HiLink LTE router or stick (B315, B525, B535, B618, E3372h in
//! HiLink mode), through the web API its own web page uses.
//!
//! One session at a time talks to the router: the poller and a send take turns. Received
//! messages are committed with a fingerprint before they are deleted (or marked read), so
//! a message listed again is shown once.

mod incoming;
mod receive;
mod router;
mod send;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::{Backend, Capabilities, EventSink, LinkState, OutgoingSms, SendError, Sent};
use crate::config::HilinkConfig;
use crate::hilink::LocalDateTime;
use crate::sms::split::SplitOptions;
use router::Router;

pub struct HilinkBackend {
    id: String,
    number: String,
    cfg: HilinkConfig,
    split: SplitOptions,
    tz: jiff::tz::TimeZone,
    router: tokio::sync::Mutex<Router>,
    state: Mutex<LinkState>,
    status: Mutex<Status>,
    /// FailPhone answers per outgoing job, for a limited number of tries.
    strikes: Mutex<HashMap<i64, u32>>,
    started: Mutex<bool>,
    stop: Notify,
}

/// What the router told us about itself, for `backends`.
#[derive(Debug, Clone, Default)]
struct Status {
    model: String,
    network: String,
    signal: String,
    storage: String,
}

impl HilinkBackend {
    pub fn new(id: &str, number: &str, cfg: HilinkConfig, split: SplitOptions) -> HilinkBackend {
        // The router picks its own alphabet: national tables are not among them.
        let split = SplitOptions { languages: Vec::new(), ..split };
        let tz = cfg.clock().unwrap_or(jiff::tz::TimeZone::UTC);
        let timeout = Duration::from_secs(cfg.request_timeout);
        let router = Router::new(&cfg.url, &cfg.username, cfg.password.clone(), timeout)
            .unwrap_or_else(|e| panic!("backend {id}: {e} (the configuration check lets no such url through)"));
        HilinkBackend {
            id: id.into(),
            number: number.into(),
            cfg,
            split,
            tz,
            router: tokio::sync::Mutex::new(router),
            state: Mutex::new(LinkState::Starting),
            status: Mutex::default(),
            strikes: Mutex::default(),
            started: Mutex::new(false),
            stop: Notify::new(),
        }
    }

    fn set_state(&self, sink: &EventSink, state: LinkState) {
        let mut s = self.state.lock().unwrap();
        // Stopped is final.
        if *s != state && *s != LinkState::Stopped {
            *s = state.clone();
            drop(s);
            sink.state(state);
        }
    }

    /// A router-local time as Unix milliseconds.
    fn router_time_ms(&self, t: &LocalDateTime) -> i64 {
        let civil = jiff::civil::DateTime::new(
            t.year as i16,
            t.month as i8,
            t.day as i8,
            t.hour as i8,
            t.minute as i8,
            t.second.min(59) as i8,
            0,
        );
        let seconds = civil.ok().and_then(|c| self.tz.to_ambiguous_timestamp(c).compatible().ok());
        // LocalDateTime::parse checked the fields; the fallback only guards a year jiff rejects.
        seconds.map_or_else(|| t.unix_seconds(0) * 1000, |ts| ts.as_millisecond())
    }

    /// Now on the router's clock, for `send-sms`'s Date.
    fn router_now(&self) -> LocalDateTime {
        let now = jiff::Timestamp::now().to_zoned(self.tz.clone());
        LocalDateTime {
            year: now.year() as u16,
            month: now.month() as u8,
            day: now.day() as u8,
            hour: now.hour() as u8,
            minute: now.minute() as u8,
            second: now.second() as u8,
        }
    }

    /// How often what a quiet poll skips is read all the same.
    fn refresh_interval(&self) -> Duration {
        Duration::from_secs(self.cfg.refresh_interval)
    }

    fn set_storage(&self, inbox: Option<u64>, outbox: u64, max: Option<u64>, full: bool) {
        let used = inbox.map_or("?".into(), |i| (i + outbox).to_string());
        let max = max.map_or("?".into(), |m| m.to_string());
        // A full router receives nothing: `backends` says so, not only the warning.
        let full = if full { " FULL, nothing more is received" } else { "" };
        self.status.lock().unwrap().storage = format!("{used}/{max}{full}");
    }
}

#[async_trait::async_trait]
impl Backend for HilinkBackend {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "hilink"
    }

    fn number(&self) -> &str {
        &self.number
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // The router splits long messages itself; the limit is ours.
            max_parts: self.split.max_parts.min(255) as u8,
            mms: false,
            delivery_reports: self.cfg.delivery_reports,
            in_flight: 1,
            ussd: false,
            // `send-sms` has no field for a validity period or a message class.
            sms_options: false,
            // Nor for 8-bit data: it takes text only.
            binary: false,
            sender: false,
        }
    }

    async fn start(self: Arc<Self>, sink: EventSink) -> Result<(), String> {
        {
            let mut started = self.started.lock().unwrap();
            if *started {
                return Err("the HiLink link was already started".into());
            }
            *started = true;
        }
        tokio::spawn(session::run(self, sink));
        Ok(())
    }

    async fn send(&self, sms: &OutgoingSms) -> Result<Sent, SendError> {
        let state = self.state();
        if !matches!(state, LinkState::Connected) {
            return Err(SendError::link_down(format!("the router is {state}")));
        }
        let now = self.router_now();
        let outcome = {
            let mut router = self.router.lock().await;
            send::send(self, &mut router, sms, now).await?
        };
        match outcome {
            send::Outcome::Sent(sent) => {
                self.strikes.lock().unwrap().remove(&sms.job_id);
                Ok(sent)
            }
            send::Outcome::Failed(why) => {
                let mut strikes = self.strikes.lock().unwrap();
                // Jobs that expired or were cancelled between strikes leave entries behind.
                if strikes.len() > 1000 {
                    strikes.clear();
                }
                let n = strikes.entry(sms.job_id).or_insert(0);
                *n += 1;
                if *n >= send::MAX_FAILS {
                    strikes.remove(&sms.job_id);
                    Err(SendError::permanent(format!("{why} ({} tries)", send::MAX_FAILS)))
                } else {
                    Err(SendError::transient(why))
                }
            }
        }
    }

    fn state(&self) -> LinkState {
        self.state.lock().unwrap().clone()
    }

    fn details(&self) -> Option<String> {
        let s = self.status.lock().unwrap().clone();
        let parts: Vec<String> = [s.model, s.network, s.signal, s.storage.clone()]
            .into_iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty())
            .map(|(i, p)| if i == 3 { format!("storage {p}") } else { p })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    async fn stop(&self) {
        *self.state.lock().unwrap() = LinkState::Stopped;
        self.stop.notify_one();
        // Logged out here, not by the session task, so the caller knows it happened. A send
        // under way is waited for, but not for ever: a service manager stops waiting too.
        match tokio::time::timeout(Duration::from_secs(10), self.router.lock()).await {
            Ok(mut router) => {
                router.close();
                router.logout().await;
            }
            Err(_) => tracing::warn!(backend = %self.id, "the router was busy for 10 s; stopping without logging out"),
        }
    }
}
