//! SMPP 3.4 link to an SMSC (operator, bulk provider, or a phone running an SMPP app).
//!
//! `send` turns a text into submit_sm bodies and queues them for the session task, which
//! owns the connection; each part's answer comes back on a oneshot channel. A message
//! counts as sent only once every part has its submit_sm_resp.

pub mod deliver;
mod session;
mod submit;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use session::Sequence;

use super::{Backend, Capabilities, EventSink, LinkState, OutgoingSms, SendError, Sent};
use crate::config::SmppConfig;
use crate::smpp::Sm;
use crate::sms::split::SplitOptions;

/// One submit_sm waiting for the session, with where its answer goes.
pub(crate) struct Request {
    sm: Sm,
    /// The SMSC's message id (canonical form), or why not.
    reply: oneshot::Sender<Result<String, SendError>>,
    /// Times it was submitted on a connection that died before answering.
    resends: u8,
    /// Position in the order `send` queued requests, kept when one is put back.
    order: u64,
    /// Set when the SMSC refused a part of the same message for good: its other parts are
    /// not submitted any more.
    refused: Arc<std::sync::atomic::AtomicBool>,
}

impl Request {
    /// Whether anyone still wants it submitted.
    pub(crate) fn wanted(&self) -> bool {
        !self.reply.is_closed() && !self.refused.load(Ordering::Relaxed)
    }
}

/// Counters since start, for logs, tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// submit_sm accepted by the SMSC.
    pub submitted: AtomicU64,
    /// submit_sm sent again because a connection died before its response: each may be a
    /// duplicate at the phone.
    pub resent: AtomicU64,
    /// ESME_RTHROTTLED / ESME_RMSGQFUL answers (each paused the queue).
    pub throttled: AtomicU64,
    /// deliver_sm / data_sm committed.
    pub received: AtomicU64,
}

/// What the backend handle and the session task share.
pub(crate) struct Shared {
    id: String,
    state: Mutex<LinkState>,
    connected: watch::Sender<bool>,
    stats: Stats,
    /// Fingerprints of deliver_sm committed but never answered (their connection ended
    /// first): the SMSC delivers them again, and that copy is answered, not kept twice.
    unanswered: Mutex<std::collections::VecDeque<(std::time::Instant, u64)>>,
}

/// How long a committed but unanswered deliver_sm is looked out for.
const UNANSWERED_WINDOW: Duration = Duration::from_secs(600);

impl Shared {
    /// Remembers deliver_sm that were committed but could not be answered.
    pub(crate) fn remember_unanswered(&self, prints: impl IntoIterator<Item = u64>) {
        let mut u = self.unanswered.lock().unwrap();
        let now = std::time::Instant::now();
        for p in prints {
            u.push_back((now, p));
        }
        while u.len() > 10_000 {
            u.pop_front();
        }
    }

    /// Whether this deliver_sm is the SMSC's repeat of one committed but not answered;
    /// forgets it if so (a later identical message is a new one).
    pub(crate) fn was_unanswered(&self, print: u64) -> bool {
        let mut u = self.unanswered.lock().unwrap();
        let now = std::time::Instant::now();
        while u.front().is_some_and(|(at, _)| now.duration_since(*at) > UNANSWERED_WINDOW) {
            u.pop_front();
        }
        match u.iter().position(|(_, p)| *p == print) {
            Some(i) => {
                u.remove(i);
                true
            }
            None => false,
        }
    }
    fn set_state(&self, sink: &EventSink, state: LinkState) {
        let mut current = self.state.lock().unwrap();
        if *current == state {
            return;
        }
        *current = state.clone();
        self.connected.send_replace(state == LinkState::Connected);
        sink.state(state);
    }
}

/// A part's submit_sm_resp: had from an earlier attempt, or awaited now.
enum Answer {
    Had(String),
    Waiting(oneshot::Receiver<Result<String, SendError>>),
}

pub struct SmppBackend {
    number: String,
    cfg: Arc<SmppConfig>,
    split: SplitOptions,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Request>,
    queue_rx: Mutex<Option<mpsc::UnboundedReceiver<Request>>>,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    order: AtomicU64,
}

impl SmppBackend {
    pub fn new(id: &str, number: &str, cfg: SmppConfig, split: SplitOptions) -> SmppBackend {
        let (queue, queue_rx) = mpsc::unbounded_channel();
        SmppBackend {
            number: number.into(),
            cfg: Arc::new(cfg),
            split,
            shared: Arc::new(Shared {
                id: id.into(),
                state: Mutex::new(LinkState::Starting),
                connected: watch::channel(false).0,
                stats: Stats::default(),
                unanswered: Mutex::default(),
            }),
            queue,
            queue_rx: Mutex::new(Some(queue_rx)),
            shutdown: watch::channel(false).0,
            task: Mutex::default(),
            order: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Waits for one part's answer. While the link is up that may take as long as the
    /// queue ahead of it; while it is down, at most `response_timeout`, so the core can
    /// report the delay and retry with backoff.
    async fn await_submit_resp(
        &self,
        mut rx: oneshot::Receiver<Result<String, SendError>>,
    ) -> Result<String, SendError> {
        let mut connected = self.shared.connected.subscribe();
        let patience = Duration::from_secs(self.cfg.response_timeout);
        loop {
            let up = *connected.borrow_and_update();
            tokio::select! {
                r = &mut rx => return r.unwrap_or_else(|_| Err(SendError::link_down("the SMPP link stopped"))),
                _ = connected.changed() => {}
                _ = tokio::time::sleep(patience), if !up => {
                    return Err(SendError::link_down(format!("the SMPP link is down ({})", self.state())));
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Backend for SmppBackend {
    fn id(&self) -> &str {
        &self.shared.id
    }

    fn kind(&self) -> &'static str {
        "smpp"
    }

    fn number(&self) -> &str {
        &self.number
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_parts: 255,
            mms: false,
            delivery_reports: self.cfg.registered_delivery,
            in_flight: self.cfg.window as usize,
            ussd: false,
            sms_options: true,
            binary: true,
            sender: true,
        }
    }

    async fn start(self: Arc<Self>, sink: EventSink) -> Result<(), String> {
        let queue = self.queue_rx.lock().unwrap().take().ok_or("the SMPP link was already started")?;
        let session = session::Session {
            cfg: self.cfg.clone(),
            shared: self.shared.clone(),
            sink,
            queue,
            shutdown: self.shutdown.subscribe(),
        };
        *self.task.lock().unwrap() = Some(tokio::spawn(session.run()));
        Ok(())
    }

    async fn send(&self, sms: &OutgoingSms) -> Result<Sent, SendError> {
        let parts = submit::build(sms, &self.cfg, &self.split)?;
        let mut answers = Vec::with_capacity(parts.len());
        let refused = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for (i, sm) in parts.into_iter().enumerate() {
            // Accepted by an earlier attempt: the same reference and part number are kept,
            // so the phone joins it with the parts sent now.
            if let Some((_, id)) = sms.accepted.iter().find(|(k, _)| *k as usize == i) {
                answers.push(Answer::Had(id.clone()));
                continue;
            }
            let (reply, rx) = oneshot::channel();
            self.queue
                .send(Request {
                    sm,
                    reply,
                    resends: 0,
                    order: self.order.fetch_add(1, Ordering::Relaxed),
                    refused: refused.clone(),
                })
                .map_err(|_| SendError::link_down("the SMPP link is not running"))?;
            answers.push(Answer::Waiting(rx));
        }
        // Every part's answer is awaited, side by side: a part accepted after another
        // failed for now is recorded too, so the retry sends only what is missing. A
        // refusal stops the rest: answers not yet in are dropped, and parts not yet
        // submitted are skipped, so the phone gets no more pieces of a failed message.
        let mut pending: futures_util::stream::FuturesUnordered<_> = answers
            .into_iter()
            .enumerate()
            .map(|(i, a)| async move {
                let r = match a {
                    Answer::Had(id) => Ok(id),
                    Answer::Waiting(rx) => self.await_submit_resp(rx).await,
                };
                (i, r)
            })
            .collect();
        let total = pending.len();
        let mut ids: Vec<Option<String>> = vec![None; total];
        let mut accepted = Vec::new();
        let mut failure: Option<SendError> = None;
        while let Some((i, r)) = futures_util::StreamExt::next(&mut pending).await {
            match r {
                Ok(id) => {
                    if !sms.accepted.iter().any(|(k, _)| *k as usize == i) {
                        accepted.push((i as u8, id.clone()));
                    }
                    ids[i] = Some(id);
                }
                Err(e) if e.permanent => {
                    failure = Some(e);
                    break;
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        drop(pending);
        accepted.sort();
        match failure {
            Some(e) => Err(e.with_accepted(accepted)),
            None => Ok(Sent { message_ids: ids.into_iter().map(Option::unwrap_or_default).collect() }),
        }
    }

    fn state(&self) -> LinkState {
        self.shared.state.lock().unwrap().clone()
    }

    async fn stop(&self) {
        self.shutdown.send_replace(true);
        let task = self.task.lock().unwrap().take();
        if let Some(mut t) = task
            && tokio::time::timeout(Duration::from_secs(5), &mut t).await.is_err()
        {
            t.abort();
        }
    }
}

impl Stats {
    pub fn get(&self) -> [u64; 4] {
        [&self.submitted, &self.resent, &self.throttled, &self.received].map(|c| c.load(Ordering::Relaxed))
    }
}
