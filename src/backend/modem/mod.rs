//! `type: modem`: a USB or serial modem spoken to with AT commands in PDU mode.
//!
//! One task owns the port and does one thing at a time: a send, reading a message the
//! modem announced, listing storage. Messages are deleted from the modem only after they
//! are committed, with a fingerprint, so a message read twice is shown once.

mod channel;
mod decode;
mod incoming;
mod init;
mod port;
mod receive;
mod send;
mod session;
mod ussd;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::{Backend, Capabilities, EventSink, LinkState, OutgoingSms, SendError, Sent, UssdAnswer};
use crate::at::answers::Registration;
use crate::config::ModemConfig;
use crate::sms::split::SplitOptions;

pub struct ModemBackend {
    id: String,
    number: String,
    cfg: ModemConfig,
    split: SplitOptions,
    requests: mpsc::Sender<Request>,
    queue: Mutex<Option<mpsc::Receiver<Request>>>,
    state: Mutex<LinkState>,
    status: Mutex<Status>,
    /// Unknown failures per outgoing job (`+CMS ERROR: 500`), for a limited number of tries.
    strikes: Mutex<HashMap<i64, u32>>,
    stop: Notify,
}

enum Request {
    /// The message, whom to tell that the session took it up, and where the result goes.
    Send(OutgoingSms, oneshot::Sender<()>, oneshot::Sender<Result<Sent, SendError>>),
    Ussd(String, oneshot::Sender<Result<UssdAnswer, String>>),
}

/// What the modem told us about itself and the network, for `backends`.
#[derive(Debug, Clone, Default)]
struct Status {
    model: String,
    registration: Option<Registration>,
    operator: Option<String>,
    signal_dbm: Option<i32>,
    storage: String,
}

impl ModemBackend {
    pub fn new(id: &str, number: &str, cfg: ModemConfig, split: SplitOptions) -> ModemBackend {
        let (requests, queue) = mpsc::channel(16);
        ModemBackend {
            id: id.into(),
            number: number.into(),
            cfg,
            split,
            requests,
            queue: Mutex::new(Some(queue)),
            state: Mutex::new(LinkState::Starting),
            status: Mutex::default(),
            strikes: Mutex::default(),
            stop: Notify::new(),
        }
    }

    fn set_state(&self, sink: &EventSink, state: LinkState) {
        let mut s = self.state.lock().unwrap();
        if *s != state {
            *s = state.clone();
            drop(s);
            sink.state(state);
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(make(tx)).await.ok()?;
        rx.await.ok()
    }
}

#[async_trait::async_trait]
impl Backend for ModemBackend {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "modem"
    }

    fn number(&self) -> &str {
        &self.number
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_parts: 255,
            mms: false,
            delivery_reports: self.cfg.delivery_reports,
            in_flight: 1,
            ussd: true,
            sms_options: true,
            binary: true,
            sender: false,
        }
    }

    async fn start(self: Arc<Self>, sink: EventSink) -> Result<(), String> {
        let queue = self.queue.lock().unwrap().take().ok_or("the modem link was already started")?;
        tokio::spawn(session::run(self, sink, queue));
        Ok(())
    }

    async fn send(&self, sms: &OutgoingSms) -> Result<Sent, SendError> {
        let state = self.state();
        if state != LinkState::Connected {
            return Err(SendError::link_down(format!("the modem is {state}")));
        }
        let (started_tx, started) = oneshot::channel();
        let (reply, result) = oneshot::channel();
        if self.requests.send(Request::Send(sms.clone(), started_tx, reply)).await.is_err() {
            return Err(SendError::link_down("the modem link is not running"));
        }
        // A session busy elsewhere must not hold the core's sender for ever, but once it
        // has begun the send, its outcome must be waited for: giving up then could send
        // the message twice. A request given up on before that is skipped by the session.
        let limit = Duration::from_secs(self.cfg.send_timeout + 60);
        match tokio::time::timeout(limit, started).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(SendError::link_down("the modem went away before the send")),
            Err(_) => return Err(SendError::transient("the modem was busy and did not take the message in time")),
        }
        result.await.unwrap_or_else(|_| Err(SendError::link_down("the modem went away during the send")))
    }

    fn state(&self) -> LinkState {
        self.state.lock().unwrap().clone()
    }

    fn details(&self) -> Option<String> {
        let s = self.status.lock().unwrap().clone();
        let mut out = Vec::new();
        if !s.model.is_empty() {
            out.push(s.model);
        }
        if let Some(r) = s.registration {
            out.push(r.words().to_string());
        }
        if let Some(o) = s.operator {
            out.push(o);
        }
        if let Some(dbm) = s.signal_dbm {
            out.push(format!("signal {dbm} dBm"));
        }
        if !s.storage.is_empty() {
            out.push(format!("storage {}", s.storage));
        }
        (!out.is_empty()).then(|| out.join(", "))
    }

    async fn ussd(&self, code: &str) -> Result<UssdAnswer, String> {
        match self.state() {
            LinkState::Connected | LinkState::NotReady { .. } => {}
            state => return Err(format!("the modem is {state}")),
        }
        let code = code.to_string();
        self.ask(|tx| Request::Ussd(code, tx)).await.unwrap_or_else(|| Err("the modem went away".into()))
    }

    async fn stop(&self) {
        self.stop.notify_one();
    }
}
