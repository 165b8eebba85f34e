//! The submitting side's queue, kept across connections: new requests from `send`, and a
//! backlog of requests put back after a drop or a throttle.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use crate::backend::SendError;
use crate::backend::smpp::Request;
use crate::throttle::Throttle;

/// Connections a submit may go unanswered on before it fails back to the core.
const MAX_RESENDS: u8 = 3;

pub(super) struct Outbound<'a> {
    pub queue: &'a mut mpsc::UnboundedReceiver<Request>,
    /// Requests to send before anything new: resends after a drop or a throttle.
    /// Keyed by the order `send` queued them in, so put-back requests keep their order.
    pub backlog: BTreeMap<u64, Request>,
    pub throttle: Throttle,
}

impl Outbound<'_> {
    /// The next request whose sender still waits for it.
    pub async fn next(&mut self) -> Option<Request> {
        loop {
            let req = match self.backlog.pop_first().map(|(_, r)| r) {
                Some(r) => r,
                None => self.queue.recv().await?,
            };
            if req.wanted() {
                return Some(req);
            }
        }
    }

    /// The next waiting request, without waiting.
    pub fn try_next(&mut self) -> Option<Request> {
        loop {
            let req = match self.backlog.pop_first().map(|(_, r)| r) {
                Some(r) => r,
                None => self.queue.try_recv().ok()?,
            };
            if req.wanted() {
                return Some(req);
            }
        }
    }

    /// Puts requests back, ahead of new ones and in their original order. `unanswered`: the SMSC may have taken
    /// them (the connection died), so sending them again may duplicate them; after
    /// `MAX_RESENDS` such attempts a request fails (temporarily) instead, so an SMSC that
    /// never answers one message cannot keep the link cycling.
    pub fn requeue(&mut self, reqs: Vec<(u32, Request)>, unanswered: bool) {
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
