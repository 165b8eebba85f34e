//! The loop of one bound connection: submit within the window and the rate limits, keep
//! the link alive with enquire_link, pass deliver_sm to the inbound worker and write its
//! answers, and notice when the SMSC stops answering.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use super::End;
use super::conn::Conn;
use super::frames::Read;
use super::inbound::{Response, spawn_inbound};
use super::outbound::Outbound;
use super::pending::{self, Pending};
use crate::backend::smpp::{Request, Shared};
use crate::backend::{EventSink, SendError};
use crate::config::SmppConfig;
use crate::smpp::{self, Body, Pdu};

enum Event {
    Shutdown,
    Frame(Option<Read>),
    Submit(Option<Request>),
    Answered(Option<Response>),
    Timer,
}

impl Conn {
    /// Runs the connection until it ends. `out` is None on a receiver-only connection.
    pub async fn serve(
        &mut self,
        cfg: &SmppConfig,
        shared: &Arc<Shared>,
        sink: &EventSink,
        mut out: Option<&mut Outbound<'_>>,
        mut shutdown: watch::Receiver<bool>,
    ) -> End {
        let window = cfg.window as usize;
        let throttle_pause = Duration::from_secs(cfg.throttle_pause);
        let mut pending: HashMap<u32, Pending> = HashMap::new();
        let mut last_heard = Instant::now();
        let (inbound, mut responses) = spawn_inbound(shared.clone(), sink.clone(), cfg.data_coding);

        let end = loop {
            let now = Instant::now();
            let slot = out.as_mut().and_then(|o| o.throttle.next_slot(now));
            let may_submit = out.is_some() && pending::submits(&pending) < window && slot.is_none();
            let next = next_wake(cfg, &pending, last_heard, slot, now);
            let event = tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => Event::Shutdown,
                // Answers first, and frames only while the inbound worker has room: an SMSC
                // that sends deliver_sm without waiting must not wedge the loop.
                a = responses.recv() => Event::Answered(a),
                f = self.frames.recv(), if inbound.capacity() > 0 => Event::Frame(f),
                r = async { out.as_mut().expect("may_submit implies a submitter").next().await }, if may_submit => Event::Submit(r),
                _ = sleep_until(next) => Event::Timer,
            };
            let now = Instant::now();
            let outcome = match event {
                Event::Shutdown => {
                    // Answers already on the way are taken in first: dropping them would
                    // send accepted messages again.
                    self.drain(cfg, shared, &mut pending, &mut out, &inbound, &mut responses).await;
                    self.unbind(cfg).await;
                    break End::Shutdown;
                }
                Event::Frame(None) => break End::Lost("the connection closed".into()),
                Event::Frame(Some(Read::Closed(why))) => break End::Lost(why),
                Event::Frame(Some(Read::Malformed(e, st))) => {
                    last_heard = now;
                    self.on_malformed(cfg, shared, e, st, &mut pending, &mut out, &inbound, now + throttle_pause).await
                }
                Event::Frame(Some(Read::Pdu(pdu))) => {
                    last_heard = now;
                    self.on_pdu(cfg, shared, pdu, &mut pending, &mut out, &inbound, now + throttle_pause).await
                }
                Event::Answered(None) => break End::Lost("the inbound worker stopped".into()),
                Event::Answered(Some(first)) => {
                    let mut ready = vec![first];
                    while let Ok(r) = responses.try_recv() {
                        ready.push(r);
                    }
                    let (pdus, prints): (Vec<Pdu>, Vec<Option<u64>>) =
                        ready.into_iter().map(|r| (r.pdu, r.fingerprint)).unzip();
                    let written = self.write_all(cfg, &pdus).await;
                    if written.is_err() {
                        shared.remember_unanswered(prints.into_iter().flatten());
                    }
                    written.map(|()| None)
                }
                Event::Submit(None) => break End::Shutdown,
                Event::Submit(Some(first)) => {
                    self.submit_batch(cfg, shared, first, &mut pending, &mut out, now).await.map(|()| None)
                }
                Event::Timer => self.on_timer(cfg, &mut pending, last_heard, now).await,
            };
            match outcome {
                Ok(None) => {}
                Ok(Some(end)) => break end,
                Err(why) => break End::Lost(why),
            }
        };
        // Committed messages whose answers never went out: their repeats are not kept twice.
        responses.close();
        let mut left = Vec::new();
        while let Ok(r) = responses.try_recv() {
            left.extend(r.fingerprint);
        }
        shared.remember_unanswered(left);
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

    /// Sends `first` and everything else already waiting in the same write, as far as the
    /// window and the rate limits allow.
    async fn submit_batch(
        &mut self,
        cfg: &SmppConfig,
        shared: &Shared,
        first: Request,
        pending: &mut HashMap<u32, Pending>,
        out: &mut Option<&mut Outbound<'_>>,
        now: Instant,
    ) -> Result<(), String> {
        let window = cfg.window as usize;
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
            if let Some(o) = out.as_mut() {
                o.throttle.record(now);
                if pending::submits(pending) < window && o.throttle.next_slot(now).is_none() {
                    next = o.try_next();
                }
            }
        }
        self.send_bytes(cfg, &batch).await
    }

    /// Ends a connection whose SMSC stopped answering, and probes one that went quiet.
    async fn on_timer(
        &mut self,
        cfg: &SmppConfig,
        pending: &mut HashMap<u32, Pending>,
        last_heard: Instant,
        now: Instant,
    ) -> Result<Option<End>, String> {
        let response_timeout = Duration::from_secs(cfg.response_timeout);
        if let Some((seq, p)) = pending.iter().find(|(_, p)| p.at() + response_timeout <= now) {
            let what = if matches!(p, Pending::Enquire { .. }) { "enquire_link" } else { "submit_sm" };
            let why = format!("no response to {what} (sequence {seq}) within {}s", cfg.response_timeout);
            return Ok(Some(End::Lost(why)));
        }
        if !pending::enquire_pending(pending) && last_heard + Duration::from_secs(cfg.enquire_link_interval) <= now {
            let seq = self.seq.take();
            pending.insert(seq, Pending::Enquire { at: now });
            self.write(cfg, &Pdu::new(seq, Body::EnquireLink)).await?;
        }
        Ok(None)
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
        responses: &mut mpsc::Receiver<Response>,
    ) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let far = Instant::now() + Duration::from_secs(3600);
        while pending::submits(pending) > 0 {
            tokio::select! {
                a = responses.recv() => match a {
                    Some(resp) => if self.write(cfg, &resp.pdu).await.is_err() {
                        shared.remember_unanswered(resp.fingerprint);
                        return;
                    },
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
        while let Ok(resp) = responses.try_recv() {
            if self.write(cfg, &resp.pdu).await.is_err() {
                shared.remember_unanswered(resp.fingerprint);
                return;
            }
        }
    }
}

/// When the loop must wake even if nothing arrives: an answer overdue, an enquire_link
/// due, or the next submit slot.
fn next_wake(
    cfg: &SmppConfig,
    pending: &HashMap<u32, Pending>,
    last_heard: Instant,
    slot: Option<Instant>,
    now: Instant,
) -> Instant {
    let response_timeout = Duration::from_secs(cfg.response_timeout);
    let mut next = if pending::enquire_pending(pending) {
        now + response_timeout
    } else {
        last_heard + Duration::from_secs(cfg.enquire_link_interval)
    };
    if let Some(oldest) = pending.values().map(Pending::at).min() {
        next = next.min(oldest + response_timeout);
    }
    if let Some(s) = slot {
        next = next.min(s);
    }
    next
}
