//! The SMPP session: connect, bind, keep the link alive, submit within the window and the
//! rate limits, take in deliver_sm, and reconnect with backoff when anything goes wrong.
//!
//! Submits that were in flight when a connection died go back to the front of the queue
//! and are sent again after the next bind: the SMSC may have accepted them before the
//! link died, so this can duplicate a message (counted in `Stats::resent`). A deliver_sm
//! is answered only after what it carried is committed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::deliver::{self, Incoming, Message};
use super::throttle::Throttle;
use super::{Request, Shared};
use crate::backend::{EventSink, LinkState, SendError};
use crate::config::{BindMode, SmppConfig};
use crate::smpp::{self, Bind, Body, Pdu, PduError, SmResp, receipt, status};

/// Connections a submit may go unanswered on before it fails back to the core.
const MAX_RESENDS: u8 = 3;

/// A connection that dies sooner than this after its bind counts as a failed attempt, so
/// an SMSC that accepts binds and then drops them gets the growing backoff too.
const SHORT_LIVED: Duration = Duration::from_secs(30);

/// How a connection (or the attempt to make one) ended.
#[derive(Debug)]
enum End {
    Shutdown,
    BadCredentials(String),
    /// Could not connect or bind.
    Failed(String),
    /// Was bound, then lost.
    Lost(String),
}

/// Sequence numbers run 1..=0x7FFFFFFF and wrap (SMPP 3.4 §5.1.4).
#[derive(Debug)]
pub struct Sequence(u32);

impl Default for Sequence {
    fn default() -> Self {
        Sequence(1)
    }
}

impl Sequence {
    pub fn starting_at(n: u32) -> Sequence {
        Sequence(n.clamp(1, 0x7FFF_FFFF))
    }

    pub fn take(&mut self) -> u32 {
        let n = self.0;
        self.0 = if n >= 0x7FFF_FFFF { 1 } else { n + 1 };
        n
    }
}

pub(super) struct Session {
    pub cfg: Arc<SmppConfig>,
    pub shared: Arc<Shared>,
    pub sink: EventSink,
    pub queue: mpsc::UnboundedReceiver<Request>,
    pub shutdown: watch::Receiver<bool>,
}

/// What the submitting side keeps across connections.
struct Outbound<'a> {
    queue: &'a mut mpsc::UnboundedReceiver<Request>,
    /// Requests to send before anything new: resends after a drop or a throttle.
    /// Keyed by the order `send` queued them in, so put-back requests keep their order.
    backlog: BTreeMap<u64, Request>,
    throttle: Throttle,
}

impl Outbound<'_> {
    /// The next request whose sender still waits for it.
    async fn next(&mut self) -> Option<Request> {
        loop {
            let req = match self.backlog.pop_first().map(|(_, r)| r) {
                Some(r) => r,
                None => self.queue.recv().await?,
            };
            if !req.reply.is_closed() {
                return Some(req);
            }
        }
    }

    /// The next waiting request, without waiting.
    fn try_next(&mut self) -> Option<Request> {
        loop {
            let req = match self.backlog.pop_first().map(|(_, r)| r) {
                Some(r) => r,
                None => self.queue.try_recv().ok()?,
            };
            if !req.reply.is_closed() {
                return Some(req);
            }
        }
    }

    /// Puts requests back, ahead of new ones and in their original order. `unanswered`: the SMSC may have taken
    /// them (the connection died), so sending them again may duplicate them; after
    /// `MAX_RESENDS` such attempts a request fails (temporarily) instead, so an SMSC that
    /// never answers one message cannot keep the link cycling.
    fn requeue(&mut self, reqs: Vec<(u32, Request)>, unanswered: bool) {
        for (_, mut r) in reqs {
            if unanswered {
                r.resends += 1;
                if r.resends > MAX_RESENDS {
                    let why = format!("the SMSC did not answer it on {} connections", r.resends);
                    let _ = r.reply.send(Err(SendError::transient(why)));
                    continue;
                }
            }
            self.backlog.insert(r.order, r);
        }
    }
}

impl Session {
    pub async fn run(mut self) {
        let cfg = self.cfg.clone();
        let min = Duration::from_secs(cfg.reconnect_min_delay);
        let max = Duration::from_secs(cfg.reconnect_max_delay);
        let mut delay = min;
        let mut out = Outbound {
            queue: &mut self.queue,
            backlog: BTreeMap::new(),
            throttle: Throttle::new(cfg.max_per_second, cfg.max_per_minute),
        };
        loop {
            let started = tokio::time::Instant::now();
            let mut end = connect_and_serve(&cfg, &self.shared, &self.sink, &mut out, &mut self.shutdown).await;
            if started.elapsed() < SHORT_LIVED
                && let End::Lost(why) = &end
            {
                end = End::Failed(format!("{why} (soon after binding)"));
            }
            let wait = match end {
                End::Shutdown => break,
                End::BadCredentials(why) => {
                    tracing::error!(link = %self.shared.id, %why, "the SMSC refused our credentials; retrying slowly");
                    self.shared.set_state(&self.sink, LinkState::BadCredentials { reason: why });
                    Duration::from_secs(cfg.bad_credentials_delay)
                }
                End::Failed(why) => {
                    tracing::warn!(link = %self.shared.id, %why, retry_in = ?delay, "SMPP connect/bind failed");
                    self.shared.set_state(&self.sink, LinkState::Reconnecting { reason: why });
                    let d = jitter(delay);
                    delay = (delay * 2).min(max);
                    d
                }
                End::Lost(why) => {
                    tracing::warn!(link = %self.shared.id, %why, "SMPP connection lost; reconnecting");
                    self.shared.set_state(&self.sink, LinkState::Reconnecting { reason: why });
                    delay = (min * 2).min(max);
                    jitter(min)
                }
            };
            tokio::select! {
                _ = sleep(wait) => {}
                _ = self.shutdown.wait_for(|s| *s) => break,
            }
        }
        self.shared.set_state(&self.sink, LinkState::Stopped);
    }
}

/// Somewhere between half and all of `d`, so many bridges don't reconnect in step.
fn jitter(d: Duration) -> Duration {
    let ms = d.as_millis() as u64;
    Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms.max(1)))
}

async fn connect_and_serve(
    cfg: &Arc<SmppConfig>,
    shared: &Arc<Shared>,
    sink: &EventSink,
    out: &mut Outbound<'_>,
    shutdown: &mut watch::Receiver<bool>,
) -> End {
    match cfg.bind {
        BindMode::Transceiver => {
            let mut conn = match Conn::open(cfg, smpp::BIND_TRANSCEIVER, shutdown).await {
                Ok(c) => c,
                Err(e) => return e,
            };
            shared.set_state(sink, LinkState::Connected);
            conn.serve(cfg, shared, sink, Some(out), shutdown.clone()).await
        }
        BindMode::TransmitterReceiver => {
            let mut tx = match Conn::open(cfg, smpp::BIND_TRANSMITTER, shutdown).await {
                Ok(c) => c,
                Err(e) => return e,
            };
            let mut rx = match Conn::open(cfg, smpp::BIND_RECEIVER, shutdown).await {
                Ok(c) => c,
                Err(e) => {
                    tx.unbind(cfg).await;
                    return e;
                }
            };
            shared.set_state(sink, LinkState::Connected);
            // Either connection ending ends both: the pair is one link.
            let (stop_tx, stop_rx) = watch::channel(false);
            let ended = tokio::sync::Notify::new();
            let mut global = shutdown.clone();
            let (a, b, ()) = tokio::join!(
                async {
                    let end = tx.serve(cfg, shared, sink, Some(out), stop_rx.clone()).await;
                    ended.notify_one();
                    end
                },
                async {
                    let end = rx.serve(cfg, shared, sink, None, stop_rx.clone()).await;
                    ended.notify_one();
                    end
                },
                async {
                    tokio::select! {
                        _ = global.wait_for(|s| *s) => {}
                        _ = ended.notified() => {}
                    }
                    let _ = stop_tx.send(true);
                }
            );
            if *shutdown.borrow() {
                return End::Shutdown;
            }
            match (a, b) {
                (End::Shutdown, other) | (other, _) => other,
            }
        }
    }
}

enum Read {
    Pdu(Pdu),
    /// A frame that could not be decoded (with its header's command_status); the stream
    /// is still in step.
    Malformed(PduError, u32),
    /// The stream is gone or out of step.
    Closed(String),
}

struct Conn {
    frames: mpsc::Receiver<Read>,
    writer: BufWriter<OwnedWriteHalf>,
    reader: tokio::task::JoinHandle<()>,
    seq: Sequence,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

enum Pending {
    Submit { req: Box<Request>, at: Instant },
    Enquire { at: Instant },
}

impl Pending {
    fn at(&self) -> Instant {
        match self {
            Pending::Submit { at, .. } | Pending::Enquire { at } => *at,
        }
    }
}

enum Event {
    Shutdown,
    Frame(Option<Read>),
    Submit(Option<Request>),
    Answered(Option<Pdu>),
    Timer,
}

impl Conn {
    /// Connects and binds; on failure says whether to blame the credentials.
    async fn open(cfg: &SmppConfig, bind_id: u32, shutdown: &mut watch::Receiver<bool>) -> Result<Conn, End> {
        let wait = Duration::from_secs(cfg.response_timeout);
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let stream = tokio::select! {
            r = timeout(wait, TcpStream::connect(&addr)) => match r {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(End::Failed(format!("cannot connect to {addr}: {e}"))),
                Err(_) => return Err(End::Failed(format!("no answer from {addr} within {}s", cfg.response_timeout))),
            },
            _ = shutdown.wait_for(|s| *s) => return Err(End::Shutdown),
        };
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, frames) = mpsc::channel(64);
        let reader = tokio::spawn(read_frames(BufReader::with_capacity(64 * 1024, rd), cfg.max_pdu_size, tx));
        let role = match bind_id {
            smpp::BIND_TRANSMITTER => "transmitter",
            smpp::BIND_RECEIVER => "receiver",
            _ => "transceiver",
        };
        let mut conn = Conn { frames, writer: BufWriter::new(wr), reader, seq: Sequence::default() };
        let bind = Bind {
            system_id: cfg.system_id.clone(),
            password: cfg.password.clone(),
            system_type: cfg.system_type.clone(),
            interface_version: 0x34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: cfg.address_range.clone(),
        };
        let body = match bind_id {
            smpp::BIND_TRANSMITTER => Body::BindTransmitter(bind),
            smpp::BIND_RECEIVER => Body::BindReceiver(bind),
            _ => Body::BindTransceiver(bind),
        };
        let seq = conn.seq.take();
        conn.write(cfg, &Pdu::new(seq, body)).await.map_err(End::Failed)?;
        let deadline = Instant::now() + wait;
        loop {
            let read = tokio::select! {
                r = timeout_at(deadline, conn.frames.recv()) => r,
                _ = shutdown.wait_for(|s| *s) => return Err(End::Shutdown),
            };
            let pdu = match read {
                Err(_) => return Err(End::Failed(format!("no bind response within {}s", cfg.response_timeout))),
                Ok(None) => return Err(End::Failed("the SMSC closed the connection during bind".into())),
                Ok(Some(Read::Closed(why))) => return Err(End::Failed(format!("during bind: {why}"))),
                Ok(Some(Read::Malformed(e, _))) => return Err(End::Failed(format!("bad bind response: {e}"))),
                Ok(Some(Read::Pdu(p))) => p,
            };
            match &pdu.body {
                Body::BindTransceiverResp(_)
                | Body::BindTransmitterResp(_)
                | Body::BindReceiverResp(_)
                | Body::GenericNack
                    if pdu.sequence == seq =>
                {
                    if pdu.status == status::ESME_ROK && !matches!(pdu.body, Body::GenericNack) {
                        tracing::info!(role, smsc = %addr, "SMPP bound");
                        return Ok(conn);
                    }
                    let why = format!("bind refused: {}", status::describe(pdu.status));
                    return Err(if status::is_bind_credentials(pdu.status) {
                        End::BadCredentials(why)
                    } else {
                        End::Failed(why)
                    });
                }
                Body::EnquireLink => {
                    let _ = conn.write(cfg, &Pdu::new(pdu.sequence, Body::EnquireLinkResp)).await;
                }
                other => tracing::debug!(pdu = other.name(), "ignored while binding"),
            }
        }
    }

    async fn write(&mut self, cfg: &SmppConfig, pdu: &Pdu) -> Result<(), String> {
        self.write_all(cfg, std::slice::from_ref(pdu)).await
    }

    /// Several PDUs in one write.
    async fn write_all(&mut self, cfg: &SmppConfig, pdus: &[Pdu]) -> Result<(), String> {
        let mut bytes = Vec::with_capacity(pdus.len() * 32);
        for pdu in pdus {
            smpp::encode_into(pdu, &mut bytes).map_err(|e| format!("cannot encode {}: {e}", pdu.body.name()))?;
        }
        self.send_bytes(cfg, &bytes).await
    }

    /// Writes and flushes, giving up after `response_timeout` (an SMSC that stops reading).
    async fn send_bytes(&mut self, cfg: &SmppConfig, bytes: &[u8]) -> Result<(), String> {
        let w = async {
            self.writer.write_all(bytes).await?;
            self.writer.flush().await
        };
        match timeout(Duration::from_secs(cfg.response_timeout), w).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write failed: {e}")),
            Err(_) => Err(format!("the SMSC took no data for {}s", cfg.response_timeout)),
        }
    }

    /// Says goodbye: unbind, and wait briefly for the answer.
    async fn unbind(&mut self, cfg: &SmppConfig) {
        let seq = self.seq.take();
        if self.write(cfg, &Pdu::new(seq, Body::Unbind)).await.is_err() {
            return;
        }
        let _ = timeout(Duration::from_secs(2), async {
            while let Some(r) = self.frames.recv().await {
                if let Read::Pdu(Pdu { body: Body::UnbindResp, .. }) | Read::Closed(_) = r {
                    break;
                }
            }
        })
        .await;
    }

    async fn serve(
        &mut self,
        cfg: &SmppConfig,
        shared: &Arc<Shared>,
        sink: &EventSink,
        mut out: Option<&mut Outbound<'_>>,
        mut shutdown: watch::Receiver<bool>,
    ) -> End {
        let window = cfg.window as usize;
        let enquire_every = Duration::from_secs(cfg.enquire_link_interval);
        let response_timeout = Duration::from_secs(cfg.response_timeout);
        let throttle_pause = Duration::from_secs(cfg.throttle_pause);
        let mut pending: HashMap<u32, Pending> = HashMap::new();
        let mut submits = 0usize;
        let mut last_heard = Instant::now();
        let (inbound, answered) = spawn_inbound(shared.clone(), sink.clone(), cfg.data_coding);
        let mut answered = answered;

        let end = loop {
            let now = Instant::now();
            let slot = out.as_mut().and_then(|o| o.throttle.next_slot(now));
            let may_submit = out.is_some() && submits < window && slot.is_none();
            let enquire_pending = pending.values().any(|p| matches!(p, Pending::Enquire { .. }));
            let mut next = if enquire_pending { now + response_timeout } else { last_heard + enquire_every };
            if let Some(oldest) = pending.values().map(Pending::at).min() {
                next = next.min(oldest + response_timeout);
            }
            if let Some(s) = slot {
                next = next.min(s);
            }
            let event = tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => Event::Shutdown,
                // Answers first, and frames only while the inbound worker has room: an SMSC
                // that sends deliver_sm without waiting must not wedge the loop.
                a = answered.recv() => Event::Answered(a),
                f = self.frames.recv(), if inbound.capacity() > 0 => Event::Frame(f),
                r = async { out.as_mut().expect("may_submit implies a submitter").next().await }, if may_submit => Event::Submit(r),
                _ = sleep_until(next) => Event::Timer,
            };
            let now = Instant::now();
            match event {
                Event::Shutdown => {
                    // Answers already on the way are taken in first: dropping them would
                    // send accepted messages again.
                    self.drain(cfg, shared, &mut pending, &mut out, &inbound, &mut answered).await;
                    self.unbind(cfg).await;
                    break End::Shutdown;
                }
                Event::Frame(None) => break End::Lost("the connection closed".into()),
                Event::Frame(Some(Read::Closed(why))) => break End::Lost(why),
                Event::Frame(Some(Read::Malformed(e, st))) => {
                    last_heard = now;
                    match self
                        .on_malformed(cfg, shared, e, st, &mut pending, &mut out, &inbound, now + throttle_pause)
                        .await
                    {
                        Ok(None) => {}
                        Ok(Some(end)) => break end,
                        Err(why) => break End::Lost(why),
                    }
                }
                Event::Frame(Some(Read::Pdu(pdu))) => {
                    last_heard = now;
                    match self.on_pdu(cfg, shared, pdu, &mut pending, &mut out, &inbound, now + throttle_pause).await {
                        Ok(None) => {}
                        Ok(Some(end)) => break end,
                        Err(why) => break End::Lost(why),
                    }
                }
                Event::Answered(None) => break End::Lost("the inbound worker stopped".into()),
                Event::Answered(Some(resp)) => {
                    let mut more = vec![resp];
                    while let Ok(r) = answered.try_recv() {
                        more.push(r);
                    }
                    if let Err(why) = self.write_all(cfg, &more).await {
                        break End::Lost(why);
                    }
                }
                Event::Submit(None) => break End::Shutdown,
                Event::Submit(Some(first)) => {
                    // Everything else already waiting goes out in the same write, as far as
                    // the window and the rate limits allow.
                    let mut batch = Vec::with_capacity(8);
                    let mut next = Some(first);
                    while let Some(req) = next.take() {
                        let seq = self.seq.take();
                        let pdu = Pdu::new(seq, Body::SubmitSm(req.sm.clone()));
                        if let Err(e) = smpp::encode_into(&pdu, &mut batch) {
                            let _ = req.reply.send(Err(SendError::permanent(format!("cannot encode submit_sm: {e}"))));
                        } else {
                            if req.resends > 0 {
                                shared.stats.resent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            pending.insert(seq, Pending::Submit { req: Box::new(req), at: now });
                        }
                        let submits = pending.values().filter(|p| matches!(p, Pending::Submit { .. })).count();
                        if let Some(o) = out.as_mut() {
                            o.throttle.record(now);
                            if submits < window && o.throttle.next_slot(now).is_none() {
                                next = o.try_next();
                            }
                        }
                    }
                    if let Err(why) = self.send_bytes(cfg, &batch).await {
                        break End::Lost(why);
                    }
                }
                Event::Timer => {
                    if let Some((seq, p)) = pending.iter().find(|(_, p)| p.at() + response_timeout <= now) {
                        let what = if matches!(p, Pending::Enquire { .. }) { "enquire_link" } else { "submit_sm" };
                        break End::Lost(format!(
                            "no response to {what} (sequence {seq}) within {}s",
                            cfg.response_timeout
                        ));
                    }
                    if !enquire_pending && last_heard + enquire_every <= now {
                        let seq = self.seq.take();
                        pending.insert(seq, Pending::Enquire { at: now });
                        if let Err(why) = self.write(cfg, &Pdu::new(seq, Body::EnquireLink)).await {
                            break End::Lost(why);
                        }
                    }
                }
            }
            submits = pending.values().filter(|p| matches!(p, Pending::Submit { .. })).count();
        };
        // Whatever the SMSC never answered goes again after the next bind.
        let unanswered: Vec<(u32, Request)> = pending
            .drain()
            .filter_map(|(seq, p)| match p {
                Pending::Submit { req, .. } => Some((seq, *req)),
                Pending::Enquire { .. } => None,
            })
            .collect();
        if let Some(o) = out {
            if !unanswered.is_empty() {
                tracing::warn!(link = %shared.id, count = unanswered.len(), "submits unanswered when the connection ended; they will be sent again");
            }
            o.requeue(unanswered, true);
        }
        end
    }

    /// A frame that did not decode. A response is never answered (that would break the
    /// protocol); one to a pending submit still settles it by its command_status, so an
    /// SMSC that sends a sloppy submit_sm_resp does not make us resend forever.
    #[allow(clippy::too_many_arguments)]
    async fn on_malformed(
        &mut self,
        cfg: &SmppConfig,
        shared: &Arc<Shared>,
        e: PduError,
        st: u32,
        pending: &mut HashMap<u32, Pending>,
        out: &mut Option<&mut Outbound<'_>>,
        inbound: &mpsc::Sender<(u32, Body)>,
        pause_until: Instant,
    ) -> Result<Option<End>, String> {
        let command_id = e.command_id.unwrap_or(0);
        match (command_id, e.sequence) {
            (smpp::SUBMIT_SM_RESP, Some(seq)) if matches!(pending.get(&seq), Some(Pending::Submit { .. })) => {
                tracing::warn!(link = %shared.id, error = %e, "unreadable submit_sm_resp; settled by its status alone");
                let pdu = Pdu::new(seq, Body::SubmitSmResp(SmResp::default())).with_status(st);
                self.on_pdu(cfg, shared, pdu, pending, out, inbound, pause_until).await
            }
            (id, _) if id & smpp::RESP != 0 => {
                tracing::warn!(link = %shared.id, error = %e, "unreadable response from the SMSC; ignored");
                Ok(None)
            }
            (_, Some(seq)) => {
                tracing::warn!(link = %shared.id, error = %e, "malformed PDU from the SMSC; answered generic_nack");
                let nack = Pdu::new(seq, Body::GenericNack).with_status(status::ESME_RINVCMDLEN);
                self.write(cfg, &nack).await.map(|()| None)
            }
            (_, None) => {
                tracing::warn!(link = %shared.id, error = %e, "malformed PDU from the SMSC; ignored");
                Ok(None)
            }
        }
    }

    /// Before unbinding: waits (briefly) for the answers to submits in flight, and sends
    /// the answers to deliver_sm already committed.
    async fn drain(
        &mut self,
        cfg: &SmppConfig,
        shared: &Arc<Shared>,
        pending: &mut HashMap<u32, Pending>,
        out: &mut Option<&mut Outbound<'_>>,
        inbound: &mpsc::Sender<(u32, Body)>,
        answered: &mut mpsc::Receiver<Pdu>,
    ) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let far = Instant::now() + Duration::from_secs(3600);
        while pending.values().any(|p| matches!(p, Pending::Submit { .. })) {
            tokio::select! {
                a = answered.recv() => match a {
                    Some(resp) => if self.write(cfg, &resp).await.is_err() { return },
                    None => return,
                },
                f = self.frames.recv(), if inbound.capacity() > 0 => match f {
                    Some(Read::Pdu(pdu)) => {
                        if !matches!(self.on_pdu(cfg, shared, pdu, pending, out, inbound, far).await, Ok(None)) {
                            return;
                        }
                    }
                    Some(Read::Malformed(e, st)) => {
                        let _ = self.on_malformed(cfg, shared, e, st, pending, out, inbound, far).await;
                    }
                    _ => return,
                },
                _ = sleep_until(deadline) => return,
            }
        }
        while let Ok(resp) = answered.try_recv() {
            if self.write(cfg, &resp).await.is_err() {
                return;
            }
        }
    }

    /// Handles one PDU from the SMSC. Ok(Some) ends the connection.
    #[allow(clippy::too_many_arguments)]
    async fn on_pdu(
        &mut self,
        cfg: &SmppConfig,
        shared: &Arc<Shared>,
        pdu: Pdu,
        pending: &mut HashMap<u32, Pending>,
        out: &mut Option<&mut Outbound<'_>>,
        inbound: &mpsc::Sender<(u32, Body)>,
        pause_until: Instant,
    ) -> Result<Option<End>, String> {
        let seq = pdu.sequence;
        match pdu.body {
            Body::SubmitSmResp(_) | Body::GenericNack if pending.contains_key(&seq) => {
                let Some(Pending::Submit { req, .. }) = pending.remove(&seq) else {
                    // A generic_nack to our enquire_link: the link is alive all the same.
                    return Ok(None);
                };
                let id = match &pdu.body {
                    Body::SubmitSmResp(SmResp { message_id, .. }) => message_id.clone(),
                    _ => String::new(),
                };
                let st = pdu.status;
                if st == status::ESME_ROK && matches!(pdu.body, Body::SubmitSmResp(_)) {
                    shared.stats.submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let _ = req.reply.send(Ok(receipt::canonical_id(&id)));
                } else if status::is_throttle(st) {
                    shared.stats.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(link = %shared.id, status = %status::describe(st), "SMSC asks us to slow down; pausing submits");
                    if let Some(o) = out.as_mut() {
                        o.throttle.pause(pause_until);
                        o.requeue(vec![(seq, *req)], false);
                    }
                } else if status::is_temporary(st) || matches!(pdu.body, Body::GenericNack) {
                    // A generic_nack says the SMSC did not understand the PDU, not that it
                    // refuses the message: retry with backoff (bounded by max_attempts).
                    let _ = req.reply.send(Err(SendError::transient(format!("SMSC: {}", status::describe(st)))));
                } else {
                    let _ =
                        req.reply.send(Err(SendError::permanent(format!("SMSC refused it: {}", status::describe(st)))));
                }
            }
            Body::EnquireLinkResp => {
                // Only an enquire_link of ours: a stray one must not drop a submit.
                if matches!(pending.get(&seq), Some(Pending::Enquire { .. })) {
                    pending.remove(&seq);
                }
            }
            Body::EnquireLink => {
                self.write(cfg, &Pdu::new(seq, Body::EnquireLinkResp)).await?;
            }
            Body::DeliverSm(_) | Body::DataSm(_) => {
                // Backpressure: when the inbound worker is busy committing, stop reading.
                inbound.send((seq, pdu.body)).await.map_err(|_| "the inbound worker stopped".to_string())?;
            }
            Body::Unbind => {
                self.write(cfg, &Pdu::new(seq, Body::UnbindResp)).await?;
                return Ok(Some(End::Lost("the SMSC unbound".into())));
            }
            Body::UnbindResp
            | Body::GenericNack
            | Body::SubmitSmResp(_)
            | Body::DeliverSmResp(_)
            | Body::DataSmResp(_) => {
                tracing::debug!(link = %shared.id, pdu = pdu.body.name(), seq, "response to nothing we sent; ignored");
            }
            Body::Other { command_id, .. }
                if command_id & smpp::RESP != 0 || command_id == smpp::ALERT_NOTIFICATION =>
            {
                // Responses and alert_notification get no answer.
                tracing::debug!(link = %shared.id, command_id, "ignored a PDU we do not use");
            }
            other => {
                tracing::warn!(link = %shared.id, pdu = other.name(), "unexpected PDU from the SMSC; answered generic_nack");
                self.write(cfg, &Pdu::new(seq, Body::GenericNack).with_status(status::ESME_RINVCMDID)).await?;
            }
        }
        Ok(None)
    }
}

async fn timeout_at<F: std::future::Future>(deadline: Instant, f: F) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout_at(deadline, f).await
}

async fn read_frames(mut rd: BufReader<OwnedReadHalf>, max: u32, tx: mpsc::Sender<Read>) {
    loop {
        let mut head = [0u8; 4];
        if let Err(e) = rd.read_exact(&mut head).await {
            let why = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the SMSC closed the connection".to_string()
            } else {
                format!("read failed: {e}")
            };
            let _ = tx.send(Read::Closed(why)).await;
            return;
        }
        let len = match smpp::frame_len(head, max) {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Read::Closed(format!("cannot resynchronise: {e}"))).await;
                return;
            }
        };
        let mut frame = vec![0u8; len];
        frame[..4].copy_from_slice(&head);
        if let Err(e) = rd.read_exact(&mut frame[4..]).await {
            let _ = tx.send(Read::Closed(format!("read failed mid-PDU: {e}"))).await;
            return;
        }
        let read = match smpp::decode(&frame) {
            Ok(p) => Read::Pdu(p),
            Err(e) => {
                let status = frame.get(8..12).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                Read::Malformed(e, status)
            }
        };
        if tx.send(read).await.is_err() {
            return;
        }
    }
}

/// A task that commits what deliver_sm/data_sm carry and hands back the responses, so
/// the connection keeps submitting while SQLite syncs.
fn spawn_inbound(
    shared: Arc<Shared>,
    sink: EventSink,
    policy: crate::config::DataCodingPolicy,
) -> (mpsc::Sender<(u32, Body)>, mpsc::Receiver<Pdu>) {
    let (tx, mut rx) = mpsc::channel::<(u32, Body)>(256);
    let (done_tx, done_rx) = mpsc::channel::<Pdu>(256);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 256 {
                match rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            let (s, sh) = (sink.clone(), shared.clone());
            let answers = tokio::task::spawn_blocking(move || {
                batch.into_iter().map(|(seq, body)| answer(&sh, &s, policy, seq, &body)).collect::<Vec<_>>()
            })
            .await;
            let Ok(answers) = answers else { return };
            for a in answers {
                if done_tx.send(a).await.is_err() {
                    return;
                }
            }
        }
    });
    (tx, done_rx)
}

/// Commits one deliver_sm/data_sm and builds its response.
fn answer(shared: &Shared, sink: &EventSink, policy: crate::config::DataCodingPolicy, seq: u32, body: &Body) -> Pdu {
    let (message, resp): (Message, fn(SmResp) -> Body) = match body {
        Body::DeliverSm(sm) => (Message::from(sm), Body::DeliverSmResp),
        Body::DataSm(d) => (Message::from(d), Body::DataSmResp),
        _ => unreachable!("only deliver_sm and data_sm are passed in"),
    };
    let from = deliver::number(message.source);
    // A bug in interpreting one message must not take the link down (and make the SMSC
    // redeliver the whole batch, to fail again): that message is refused, the rest go on.
    let interpreted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| deliver::interpret(&message, policy)))
        .unwrap_or_else(|_| Err("interpreting it panicked (a bug; please report it)".to_string()));
    let committed = match interpreted {
        Ok(Incoming::Sms(sms)) => sink.sms(sms).map(drop),
        Ok(Incoming::Part(part)) => sink.sms_part(part).map(drop),
        Ok(Incoming::Report(r)) => sink.report(r).map(drop),
        Ok(Incoming::WapPush(p)) => sink.wap_push(p).map(drop),
        Ok(Incoming::Ignored(why)) => {
            tracing::info!(link = %shared.id, %from, %why, "deliver_sm acknowledged and dropped");
            Ok(())
        }
        Err(why) => {
            // Refused for good: the SMSC would only send the same bytes again.
            tracing::warn!(link = %shared.id, %from, %why, pdu = body.name(), "undecodable message refused");
            return Pdu::new(seq, resp(SmResp::default())).with_status(status::ESME_RX_P_APPN);
        }
    };
    match committed {
        Ok(()) => {
            shared.stats.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Pdu::new(seq, resp(SmResp::default()))
        }
        Err(e) => {
            // Not committed, so not acknowledged: the SMSC will try again.
            tracing::error!(link = %shared.id, error = %e, "could not store a received message; asked the SMSC to retry");
            Pdu::new(seq, resp(SmResp::default())).with_status(status::ESME_RX_T_APPN)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_wraps_within_range() {
        let mut s = Sequence::starting_at(0x7FFF_FFFE);
        assert_eq!([s.take(), s.take(), s.take()], [0x7FFF_FFFE, 0x7FFF_FFFF, 1]);
        let mut s = Sequence::default();
        assert_eq!(s.take(), 1);
    }

    #[test]
    fn jitter_stays_within_half_and_whole() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(4));
            assert!(d >= Duration::from_secs(2) && d <= Duration::from_secs(4), "{d:?}");
        }
    }
}
