//! `type: gammu_spool`: the folders of a running gammu-smsd with `service = files`, for
//! setups (matrix-sms-bridge among them) that keep gammu-smsd driving the modem.
//!
//! Inbox files are committed with a fingerprint before they are moved to
//! `processed_path` (or deleted), so a file seen again after a crash is bridged once. A
//! send writes one `OUT…` file and waits until gammu-smsd moves it to the sent or the
//! error folder. The folders are polled every `poll_ms`; there is no inotify watch.

mod folders;
pub mod group;
mod inbox;
mod outbox;
pub mod parse;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::{Backend, Capabilities, EventSink, LinkState, OutgoingSms, SendError, Sent};
use crate::config::GammuSpoolConfig;

/// Parts gammu-smsd joins into one message at most (its GSM_MAX_MULTI_SMS).
const GAMMU_MAX_PARTS: usize = 50;

pub struct GammuSpoolBackend {
    id: String,
    number: String,
    cfg: GammuSpoolConfig,
    max_parts: u8,
    state: Mutex<LinkState>,
    started: AtomicBool,
    stop: Notify,
}

impl GammuSpoolBackend {
    pub fn new(id: &str, number: &str, cfg: GammuSpoolConfig, max_parts: usize) -> GammuSpoolBackend {
        GammuSpoolBackend {
            id: id.into(),
            number: number.into(),
            cfg,
            max_parts: max_parts.min(GAMMU_MAX_PARTS) as u8,
            state: Mutex::new(LinkState::Starting),
            started: AtomicBool::new(false),
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

    fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.cfg.poll_ms)
    }
}

#[async_trait::async_trait]
impl Backend for GammuSpoolBackend {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "gammu_spool"
    }

    fn number(&self) -> &str {
        &self.number
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // gammu-smsd splits the text itself.
            max_parts: self.max_parts,
            mms: false,
            // Reports stay with gammu-smsd; its files carry no reference to match them by.
            delivery_reports: false,
            // gammu-smsd sends one file at a time; each send waits for its own file.
            in_flight: 1,
            ussd: false,
            sms_options: false,
            binary: false,
            sender: false,
        }
    }

    async fn start(self: Arc<Self>, sink: EventSink) -> Result<(), String> {
        if self.started.swap(true, Ordering::SeqCst) {
            return Err("the gammu_spool link was already started".into());
        }
        tokio::spawn(inbox::run(self, sink));
        Ok(())
    }

    async fn send(&self, sms: &OutgoingSms) -> Result<Sent, SendError> {
        let state = self.state();
        if let LinkState::NotReady { reason } = &state {
            return Err(SendError::link_down(format!("the spool is not ready: {reason}")));
        }
        if state == LinkState::Stopped {
            return Err(SendError::link_down("the link is stopped"));
        }
        outbox::send(self, sms).await
    }

    fn state(&self) -> LinkState {
        self.state.lock().unwrap().clone()
    }

    async fn stop(&self) {
        *self.state.lock().unwrap() = LinkState::Stopped;
        self.stop.notify_one();
    }
}
