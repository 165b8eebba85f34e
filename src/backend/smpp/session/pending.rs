//! What a connection has sent and still awaits an answer for, keyed by sequence number.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::backend::smpp::Request;

pub(super) enum Pending {
    Submit { req: Box<Request>, at: Instant },
    Enquire { at: Instant },
}

impl Pending {
    pub fn at(&self) -> Instant {
        match self {
            Pending::Submit { at, .. } | Pending::Enquire { at } => *at,
        }
    }
}

pub(super) fn submits(pending: &HashMap<u32, Pending>) -> usize {
    pending.values().filter(|p| matches!(p, Pending::Submit { .. })).count()
}

pub(super) fn enquire_pending(pending: &HashMap<u32, Pending>) -> bool {
    pending.values().any(|p| matches!(p, Pending::Enquire { .. }))
}
