//! Callbacks to applications (Kannel's dlr-url, the JSON API's callback_url, webhooks,
//! MQTT publications), made from their durable queue: signed, retried with backoff for
//! three days. Each target gets its callbacks one at a time and in order (a later one
//! waits while an earlier one backs off; see `due_callbacks`); different targets are
//! called side by side, so one that hangs holds up no other.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ring::hmac;

use super::{Bridge, BridgeError};
use crate::store::{Callback, callback_target, now_ms};

/// How long a callback is retried before it is given up (and kept, with its error).
const CALLBACK_WINDOW_MS: i64 = 3 * 24 * 3600 * 1000;
/// A refusal (HTTP 4xx but 408 and 429) is believed after this many tries, and once the
/// callback is an hour old: a wrong URL then, not an application being redeployed.
const REFUSALS_BELIEVED: u32 = 5;
const REFUSALS_FOR_MS: i64 = 3600 * 1000;
/// Callbacks taken per pass.
const BATCH: usize = 100;

/// Why a callback failed.
struct CallError {
    message: String,
    /// The target refused it (4xx): asking again is unlikely to help.
    refused: bool,
}

impl Bridge {
    /// Makes the callbacks that are due: true if there may be more.
    pub async fn drain_callbacks(&self) -> Result<bool, BridgeError> {
        let due = self.store.due_callbacks(BATCH)?;
        let mut targets: BTreeMap<&str, Vec<&Callback>> = BTreeMap::new();
        for cb in &due {
            targets.entry(callback_target(&cb.url)).or_default().push(cb);
        }
        let results = futures_util::future::join_all(targets.into_values().map(|cbs| self.call_target(cbs))).await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(due.len() == BATCH)
    }

    /// One target's callbacks, in order. After a failure the rest wait with it, so they
    /// are neither reordered nor tried against a target that is down.
    async fn call_target(&self, cbs: Vec<&Callback>) -> Result<(), BridgeError> {
        for cb in cbs {
            let e = match self.call_back(cb).await {
                Ok(()) => {
                    self.store.settle_callback(cb.id, "done", None)?;
                    continue;
                }
                Err(e) => e,
            };
            // Only where it goes: the rest of a URL may hold phone numbers and secrets.
            let (message, target) = (&e.message, callback_target(&cb.url));
            let age = now_ms() - cb.created_at;
            let believed = e.refused && cb.attempts + 1 >= REFUSALS_BELIEVED && age >= REFUSALS_FOR_MS;
            if age > CALLBACK_WINDOW_MS || believed {
                tracing::error!(callback = cb.id, %target, error = %message, "callback given up");
                self.store.settle_callback(cb.id, "dead", Some(message))?;
                continue;
            }
            let at = now_ms() + crate::store::backoff_ms(cb.attempts + 1, self.config.bridge.max_backoff as i64 * 1000);
            tracing::warn!(callback = cb.id, %target, error = %message, "callback failed; will retry");
            self.store.retry_callback(cb.id, at, message)?;
            return Ok(());
        }
        Ok(())
    }

    async fn call_back(&self, cb: &Callback) -> Result<(), CallError> {
        let failed = |message: String| CallError { message, refused: false };
        if let Some(topic) = cb.url.strip_prefix("mqtt:").or_else(|| cb.url.strip_prefix("mqtt-retained:")) {
            let Some(mqtt) = self.mqtt.get() else { return Err(failed("MQTT is not connected yet".into())) };
            let retain = cb.url.starts_with("mqtt-retained:");
            let body = cb.body.clone().unwrap_or_default().into_bytes();
            return mqtt.publish(topic, body, retain).await.map_err(|e| failed(e.to_string()));
        }
        let req = match &cb.body {
            None => self.callbacks_http.get(&cb.url),
            Some(body) => {
                let mut req = self.callbacks_http.post(&cb.url).header("Content-Type", "application/json");
                let secret = cb.signer.as_deref().and_then(|s| self.signing_secret(s));
                if let Some(secret) = secret {
                    let ts = (now_ms() / 1000).to_string();
                    req = req.header("X-Timestamp", &ts).header("X-Signature", sign(secret, &ts, body));
                }
                req.body(body.clone())
            }
        };
        let answer = req.send().await.map_err(|e| failed(e.without_url().to_string()))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let refused = status.is_client_error() && !matches!(status.as_u16(), 408 | 429);
        Err(CallError { message: format!("HTTP {status}"), refused })
    }
}

impl Bridge {
    /// The secret a callback is signed with: its webhook's, or its user's.
    fn signing_secret(&self, signer: &str) -> Option<&str> {
        let g = self.config.gateway.as_ref()?;
        if let Some(hook) = signer.strip_prefix("webhook:") {
            return g.webhooks.get(hook.parse::<usize>().ok()?)?.secret.as_deref();
        }
        g.user(signer)?.signing_secret()
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body).
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.callbacks.clone();
    super::work_loop("callbacks", &wake, Duration::from_secs(2), || {
        let b = bridge.clone();
        async move { b.drain_callbacks().await }
    })
    .await
}
