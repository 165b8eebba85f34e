//! The SMPP session: connect, bind, keep the link alive, submit within the window and the
//! rate limits, take in deliver_sm, and reconnect with backoff when anything goes wrong.
//!
//! Submits that were in flight when a connection died go back to the front of the queue
//! and are sent again after the next bind: the SMSC may have accepted them before the
//! link died, so this can duplicate a message (counted in `Stats::resent`). A deliver_sm
//! is answered only after what it carried is committed.

mod conn;
mod dispatch;
mod frames;
mod inbound;
mod outbound;
mod pending;
mod sequence;
mod serve;
mod tls;
mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio::time::sleep;

use self::conn::Conn;
use self::outbound::Outbound;
pub use self::sequence::Sequence;
use self::tls::Tls;
use super::{Request, Shared};
use crate::backend::{EventSink, LinkState};
use crate::config::{BindMode, SmppConfig};
use crate::smpp;
use crate::throttle::Throttle;

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

pub(super) struct Session {
    pub cfg: Arc<SmppConfig>,
    pub shared: Arc<Shared>,
    pub sink: EventSink,
    pub queue: mpsc::UnboundedReceiver<Request>,
    pub shutdown: watch::Receiver<bool>,
}

impl Session {
    pub async fn run(mut self) {
        let cfg = self.cfg.clone();
        let min = Duration::from_secs(cfg.reconnect_min_delay);
        let max = Duration::from_secs(cfg.reconnect_max_delay);
        let mut delay = min;
        if cfg.tls && cfg.tls_insecure {
            tracing::warn!(link = %self.shared.id, smsc = %cfg.host, "tls_insecure: the SMSC's certificate is not checked, so anyone on the path can pose as the SMSC");
        }
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
    let tls = match Tls::from_config(cfg) {
        Ok(t) => t,
        Err(why) => return End::Failed(format!("cannot connect to {}:{} over TLS: {why}", cfg.host, cfg.port)),
    };
    let tls = tls.as_ref();
    match cfg.bind {
        BindMode::Transceiver => {
            let mut conn = match Conn::open(cfg, tls, smpp::BIND_TRANSCEIVER, shutdown).await {
                Ok(c) => c,
                Err(e) => return e,
            };
            shared.set_state(sink, LinkState::Connected);
            conn.serve(cfg, shared, sink, Some(out), shutdown.clone()).await
        }
        BindMode::TransmitterReceiver => {
            let mut transmitter = match Conn::open(cfg, tls, smpp::BIND_TRANSMITTER, shutdown).await {
                Ok(c) => c,
                Err(e) => return e,
            };
            let mut receiver = match Conn::open(cfg, tls, smpp::BIND_RECEIVER, shutdown).await {
                Ok(c) => c,
                Err(e) => {
                    transmitter.unbind(cfg).await;
                    return e;
                }
            };
            shared.set_state(sink, LinkState::Connected);
            // Either connection ending ends both: the pair is one link.
            let (stop, stopped) = watch::channel(false);
            let ended = tokio::sync::Notify::new();
            let mut global = shutdown.clone();
            let (a, b, ()) = tokio::join!(
                async {
                    let end = transmitter.serve(cfg, shared, sink, Some(out), stopped.clone()).await;
                    ended.notify_one();
                    end
                },
                async {
                    let end = receiver.serve(cfg, shared, sink, None, stopped.clone()).await;
                    ended.notify_one();
                    end
                },
                async {
                    tokio::select! {
                        _ = global.wait_for(|s| *s) => {}
                        _ = ended.notified() => {}
                    }
                    let _ = stop.send(true);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_whole() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(4));
            assert!(d >= Duration::from_secs(2) && d <= Duration::from_secs(4), "{d:?}");
        }
    }
}
