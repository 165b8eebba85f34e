//! Question and answer (the reply-correlation essay's solutions 1 and 2, without pools):
//! an application's question is sent only when no other is outstanding on the same
//! (our number, their number) pair; the next SMS on that pair is its answer; a timeout
//! frees the pair. Every step is committed, so a restart loses no answer.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::gateway::{ApiSend, SubmitError};
use super::{Bridge, BridgeError};
use crate::config::GatewayUser;
use crate::message::ReceivedSms;
use crate::phone::Address;
use crate::store::{InboxItem, NewCallback, NewQuestion, Question, Store, now_ms};

impl Bridge {
    /// Queues a question; Ok once committed. It is sent when its pair is free.
    pub fn ask(
        &self,
        user: &GatewayUser,
        link: Option<&str>,
        to: &str,
        text: &str,
        timeout: Duration,
        callback_url: Option<&str>,
    ) -> Result<i64, SubmitError> {
        let link = self.user_link(user, link)?;
        let Some(backend) = self.backends.get(&link) else {
            return Err(SubmitError::Refused(format!("no link {link:?}")));
        };
        let addr = Address::parse(to.trim(), self.config.bridge.default_region.as_deref());
        let Some(destination) = addr.destination.clone() else {
            return Err(SubmitError::Refused(format!("{to:?} is not a number SMS can go to")));
        };
        if text.is_empty() || timeout.is_zero() || timeout > Duration::from_secs(7 * 24 * 3600) {
            return Err(SubmitError::Refused("a question needs a text and a timeout of at most a week".into()));
        }
        if let Some(url) = callback_url
            && !matches!(reqwest::Url::parse(url).map(|u| u.scheme().to_string()).as_deref(), Ok("http" | "https"))
        {
            return Err(SubmitError::Refused("callback_url must be an http(s) URL".into()));
        }
        let id = self.store.insert_question(&NewQuestion {
            user: &user.username,
            backend_id: &link,
            local_number: backend.number(),
            remote_key: &addr.key,
            destination: &destination,
            body: text,
            timeout_ms: timeout.as_millis().min(i64::MAX as u128) as i64,
            callback_url,
        })?;
        self.wake.questions.notify_one();
        Ok(id)
    }

    /// Asks the questions whose pairs are free, and ends those past their timeout or
    /// whose SMS the link would not send.
    pub async fn drain_questions(&self) -> Result<bool, BridgeError> {
        for q in self.store.expired_questions()? {
            let told = self.store.tx(|tx| {
                if !Store::expire_question_tx(tx, q.id)? {
                    return Ok(false);
                }
                // Not sent yet: too late to be asked now.
                Store::cancel_out_tx(tx, &question_event(q.id))?;
                self.question_callback_tx(tx, &q, "expired", None)?;
                Ok(true)
            })?;
            if told {
                tracing::info!(question = q.id, "question expired unanswered; its pair is free");
            }
        }
        for (q, error) in self.store.unsent_questions()? {
            self.store.tx(|tx| {
                if Store::fail_question_tx(tx, q.id)? {
                    self.question_callback_tx(tx, &q, "failed", None)?;
                }
                Ok(())
            })?;
            tracing::warn!(question = q.id, %error, "question not sent; its pair is free");
        }
        let mut busy = self.store.busy_pairs()?;
        let mut asked = 0;
        for q in &self.store.waiting_questions(500)? {
            // The lowest-numbered free pair of the link's pool; none free: it waits.
            let pool = self.number_pool(&q.backend_id);
            let Some(from) = pool.iter().find(|n| !busy.contains(&((*n).clone(), q.remote_key.clone()))).cloned()
            else {
                continue;
            };
            busy.push((from.clone(), q.remote_key.clone()));
            // Its time counts from now, when its turn comes, and its SMS is valid no longer.
            let expires_at = now_ms().saturating_add(q.timeout_ms);
            let options = self.backends.get(&q.backend_id).is_some_and(|b| b.capabilities().sms_options);
            let req = ApiSend {
                to: q.destination.clone(),
                text: q.body.clone(),
                from: Some(from.clone()),
                valid_until: options.then_some(expires_at),
                ..ApiSend::default()
            };
            let origin = format!("api:{}", q.user);
            // Named by the question: asked again after a crash, it is not queued twice.
            let prepared =
                self.prepare_app(&q.user, &q.backend_id, &req, &question_event(q.id), false, &origin).map(|mut m| {
                    m.question = Some(q.id);
                    m
                });
            let result = prepared.and_then(|m| {
                // The SMS, its copy and "asked" in one commit: a crash cannot ask it twice.
                self.store
                    .tx(|tx| {
                        let copy = self.queue_app_tx(tx, &m)?.map(|c| c.copy_inbox);
                        Store::set_question_asked_tx(tx, q.id, &from, expires_at, copy)?;
                        Ok(())
                    })
                    .map(|()| m)
                    .map_err(SubmitError::from)
            });
            match result {
                Ok(m) => {
                    self.queued(&m, 0);
                }
                Err(SubmitError::Bridge(e)) => return Err(e),
                Err(e) => {
                    // Never sent: not asked, and the pair stays free.
                    tracing::warn!(question = q.id, error = %e, "question refused");
                    busy.pop();
                    self.store.tx(|tx| {
                        if Store::fail_question_tx(tx, q.id)? {
                            self.question_callback_tx(tx, q, "failed", None)?;
                        }
                        Ok(())
                    })?;
                    continue;
                }
            }
            tracing::info!(question = q.id, to = %q.destination, %from, "question asked");
            asked += 1;
        }
        self.wake.callbacks.notify_one();
        Ok(asked > 0)
    }

    /// Our numbers on a link, lowest first: its own and its `numbers`.
    pub(super) fn number_pool(&self, link: &str) -> Vec<String> {
        let mut pool: Vec<String> = self.backends.get(link).map(|b| vec![b.number().to_string()]).unwrap_or_default();
        if let Some(c) = self.config.backends.iter().find(|b| b.id == link) {
            pool.extend(c.numbers.iter().cloned());
        }
        let digits = |n: &String| n.chars().filter(char::is_ascii_digit).collect::<String>();
        pool.sort_by_key(|n| (digits(n).len(), digits(n)));
        pool
    }

    /// An inbound SMS on a pair with a question asked is its answer: recorded, told, and
    /// the pair freed. The SMS still goes to the portal. The question it answers (now or
    /// in an earlier pass), if any.
    pub(super) fn take_answer(&self, item: &InboxItem, sms: &ReceivedSms) -> Result<Option<i64>, BridgeError> {
        if let Some(q) = self.store.answered_by(item.id)? {
            return Ok(Some(q));
        }
        let local = self.portal_local(&item.backend_id, &sms.to);
        let from = Address::parse_cached(&sms.from, self.config.bridge.default_region.as_deref());
        let Some(q) = self.store.asked_question(&local, &from.key)? else { return Ok(None) };
        // An SMS that came in before the question was asked is not its answer (inbox ids
        // grow with time, and the question's copy was queued when it was asked).
        if q.copy_inbox.is_some_and(|copy| item.id < copy) {
            return Ok(None);
        }
        let answered = self.store.tx(|tx| {
            if !Store::answer_question_tx(tx, q.id, &sms.text, item.id)? {
                return Ok(false);
            }
            self.question_callback_tx(tx, &q, "answered", Some(&sms.text))?;
            Ok(true)
        })?;
        if !answered {
            return Ok(None);
        }
        tracing::info!(question = q.id, inbox = item.id, "question answered; its pair is free");
        self.wake.questions.notify_one();
        self.wake.callbacks.notify_one();
        Ok(Some(q.id))
    }

    /// The event an inbound SMS replies to in its portal: if it answers a question, the
    /// question's copy, posted earlier or in this batch (`relayed`, not yet recorded).
    pub(super) fn reply_target(&self, inbox: i64, relayed: &[(i64, String)]) -> Result<Option<String>, BridgeError> {
        let Some(question) = self.store.answered_by(inbox)? else { return Ok(None) };
        let Some((copy, event)) = self.store.question_copy(question)? else { return Ok(None) };
        Ok(event.or_else(|| relayed.iter().find(|(id, _)| *id == copy).map(|(_, ev)| ev.clone())))
    }

    fn question_callback_tx(
        &self,
        tx: &rusqlite::Transaction,
        q: &Question,
        state: &str,
        answer: Option<&str>,
    ) -> Result<(), crate::store::StoreError> {
        let Some(url) = q.callback_url.as_deref() else { return Ok(()) };
        let body = json!({ "question": q.id, "status": state, "to": q.destination, "answer": answer, "at": now_ms() })
            .to_string();
        let key = format!("question:{}:{state}", q.id);
        let signer = Some(q.user.as_str());
        Store::enqueue_callback_tx(tx, &NewCallback { url, body: Some(&body), signer, key: Some(&key) })?;
        Ok(())
    }
}

/// The outbox name of a question's SMS.
fn question_event(id: i64) -> String {
    format!("question:{id}")
}

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.questions.clone();
    super::work_loop("questions", &wake, Duration::from_secs(1), || {
        let b = bridge.clone();
        async move { b.drain_questions().await }
    })
    .await
}
