//! MMS → Matrix. A WAP push with an m-notification-ind becomes a durable job; the job is
//! fetched from the MMSC (under `mmsc`'s fetch policy), its parts go to the portal as
//! media and text, and the MMSC is told with m-notifyresp-ind. Each stage is committed
//! before the next, and Matrix sends use transaction ids derived from the job, so a
//! restart repeats nothing the homeserver has already taken.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::media::{describe_media, extension};
use super::mms_job::{Failure, post_to_mmsc};
use super::portals::same_number;
use super::rooms::GhostPost;
use super::{Attempt, Bridge, BridgeError, Class, Failed, GiveUp};
use crate::backend::WapPush;
use crate::mms::{self, Message, MessageType, Part, TimeValue};
use crate::mmsc;
use crate::phone::Address;
use crate::store::{InboxItem, MmsJob, MmsStage, NewMmsJob, Queue, Store, now_ms};

/// m-notifyresp-ind X-Mms-Status values.
const EXPIRED: u8 = 0x80;
const RETRIEVED: u8 = 0x81;
const REJECTED: u8 = 0x82;
const DEFERRED: u8 = 0x83;
const UNRECOGNISED: u8 = 0x84;

/// Longest a fetch is retried, whatever the notification says.
const MAX_FETCH_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

pub(super) async fn run(bridge: Arc<Bridge>) {
    let wake = bridge.wake.mms.clone();
    super::work_loop("mms", &wake, Duration::from_secs(5), || {
        let b = bridge.clone();
        async move { b.drain_mms().await }
    })
    .await
}

impl Bridge {
    /// A WAP push from the inbox: an MMS notification becomes a job (returns None, the
    /// inbox item finished with it); anything else is explained in the chat (returns the
    /// notice's event id).
    pub(super) async fn accept_wap_push(&self, item: &InboxItem, p: &WapPush) -> Result<Option<String>, BridgeError> {
        let notice = |body: String| json!({ "msgtype": "m.notice", "body": body });
        let push = match mms::push::decode(&p.data) {
            Ok(push) => push,
            Err(e) => {
                tracing::warn!(from = %p.from, error = %e, "undecodable WAP push");
                let body = format!("📎 sent a WAP push message that could not be read ({e}).");
                return self.relay_notice(item, &p.from, &p.to, notice(body)).await;
            }
        };
        if !push.is_mms() {
            tracing::info!(from = %p.from, content_type = %push.content_type.media, application = ?push.application_id(), "WAP push that is not MMS; ignored");
            let body =
                format!("📎 sent a WAP push ({}), which is not a picture message; not shown.", push.content_type.media);
            return self.relay_notice(item, &p.from, &p.to, notice(body)).await;
        }
        let m = match mms::decode(&push.body) {
            Ok(m) if m.message_type == MessageType::NOTIFICATION_IND => m,
            Ok(m) => {
                let body = format!("📎 sent an MMS push of an unexpected kind ({}); not shown.", m.message_type.name());
                return self.relay_notice(item, &p.from, &p.to, notice(body)).await;
            }
            Err(e) => {
                tracing::warn!(from = %p.from, error = %e, "undecodable MMS notification");
                let body = format!("📎 sent a picture message whose notification could not be read ({e}).");
                return self.relay_notice(item, &p.from, &p.to, notice(body)).await;
            }
        };
        // The push comes from the operator's gateway; the notification names the person.
        let sender = match &m.from {
            Some(mms::From::Address(a)) => mms::bare_address(a),
            _ => p.from.clone(),
        };
        let cfg = &self.config.mms;
        // A router that consumed the real notification passes on what it showed as the subject.
        let reads =
            m.subject.as_deref().filter(|s| !s.trim().is_empty()).map(|s| format!(" (the notification reads {s:?})"));
        let refuse = |why: String| {
            notice(format!("📎 sent a picture message (MMS), not fetched: {why}{}", reads.as_deref().unwrap_or("")))
        };
        let (major, minor) = m.version.unwrap_or((1, 0));
        let version = format!("{major}.{minor}");
        let tid = m.transaction_id.clone().unwrap_or_default();
        if !cfg.enabled {
            self.tell_mmsc(&tid, &version, DEFERRED);
            return self
                .relay_notice(item, &sender, &p.to, refuse("fetching MMS is turned off (mms.enabled)".into()))
                .await;
        }
        let Some(location) = m.content_location.as_deref() else {
            return self
                .relay_notice(item, &sender, &p.to, refuse("the notification has no content location".into()))
                .await;
        };
        let location = match mmsc::complete_location(location, cfg.retrieve_base()) {
            Ok(l) => l,
            Err(e) => return self.relay_notice(item, &sender, &p.to, refuse(e.to_string())).await,
        };
        if let Some(size) = m.message_size.filter(|&s| s > cfg.max_size) {
            let why = format!("it is {size} bytes, over the {}-byte limit (mms.max_size)", cfg.max_size);
            self.tell_mmsc(&tid, &version, REJECTED);
            return self.relay_notice(item, &sender, &p.to, refuse(why)).await;
        }
        // Seconds from the network, in milliseconds, without overflowing on hostile values.
        let ms = |s: u64| i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000);
        let expires_at = match m.expiry {
            Some(TimeValue::Absolute(s)) => ms(s),
            Some(TimeValue::Relative(s)) => now_ms().saturating_add(ms(s)),
            None => now_ms().saturating_add(ms(cfg.default_expiry)),
        };
        // A notification claiming to live for years would keep a failing fetch going for
        // as long: a week is more than any MMSC keeps a message.
        let expires_at = expires_at.min(now_ms().saturating_add(MAX_FETCH_WINDOW_MS));
        // Our number the push was sent to: the conversation is that pair.
        let recipient = self.portal_local(&item.backend_id, &p.to);
        let job = NewMmsJob {
            backend_id: &item.backend_id,
            sender: &sender,
            recipient: &recipient,
            transaction_id: &tid,
            version: &version,
            location: &location,
            declared_size: m.message_size,
            expires_at,
        };
        let id = self.store.tx(|tx| {
            let id = Store::insert_mms_tx(tx, &job)?;
            Store::finish_inbox(tx, item.id, None)?;
            Ok(id)
        })?;
        tracing::info!(inbox = item.id, job = ?id, %sender, %location, "MMS notification queued for fetching");
        self.wake.mms.notify_one();
        Ok(None)
    }

    async fn relay_notice(
        &self,
        item: &InboxItem,
        sender: &str,
        recipient: &str,
        content: Value,
    ) -> Result<Option<String>, BridgeError> {
        self.relay(item, sender, recipient, &content, None).await.map(Some)
    }

    /// Works through due MMS jobs, side by side so that one slow MMSC request does not
    /// hold up the others; true if there may be more.
    pub async fn drain_mms(&self) -> Result<bool, BridgeError> {
        let jobs = self.store.due_mms(10)?;
        let results = futures_util::future::join_all(jobs.iter().map(|job| self.advance_mms(job))).await;
        for (job, result) in jobs.iter().zip(results) {
            if let Err(f) = result {
                self.mms_failed(job, f).await?;
            }
        }
        Ok(jobs.len() == 10)
    }

    /// Runs a job's stages from where it stands, committing after each.
    async fn advance_mms(&self, job: &MmsJob) -> Result<(), Failure> {
        let mut stage = job.stage;
        let mut payload = job.payload.clone();
        loop {
            match stage {
                MmsStage::Fetch => {
                    // Clocks differ: the expiry only stops retries, never the first try.
                    if job.attempts > 0 && now_ms() > job.expires_at {
                        return Err(Failure::permanent("the MMSC's notification expired before it could be fetched"));
                    }
                    let cfg = &self.config.mms;
                    let bytes = mmsc::fetch(&job.location, &cfg.fetch_policy(), cfg.proxy.as_deref())
                        .await
                        .map_err(|e| Failure { transient: e.is_transient(), message: e.to_string() })?;
                    self.mmsc_answered();
                    check_retrieved(&bytes, cfg.max_parts)?;
                    self.store.mms_advance(job.id, MmsStage::Relay, Some(&bytes)).map_err(BridgeError::from)?;
                    tracing::info!(job = job.id, bytes = bytes.len(), "MMS fetched");
                    payload = Some(bytes);
                    stage = MmsStage::Relay;
                }
                MmsStage::Relay => {
                    let bytes = payload.take().ok_or_else(|| Failure::permanent("fetched MMS is missing"))?;
                    let m = mms::decode_limited(&bytes, self.config.mms.max_parts).map_err(|e| {
                        Failure::permanent(match e.parts_over_limit() {
                            Some(n) => format!(
                                "it has {} parts, more than the {} allowed (mms.max_parts)",
                                n.declared, n.limit
                            ),
                            None => format!("the MMS could not be read: {e}"),
                        })
                    })?;
                    if m.message_type != MessageType::RETRIEVE_CONF {
                        return Err(Failure::permanent(format!(
                            "the MMSC sent {} instead of the message",
                            m.message_type.name()
                        )));
                    }
                    let (caption, media) = text_and_media(&m);
                    self.tell_apps_mms(job, &m, &mms_sender(job, &m), &caption, &media)?;
                    self.relay_mms(job, &m).await?;
                    self.matrix_answered();
                    self.store.mms_advance(job.id, MmsStage::Notify, None).map_err(BridgeError::from)?;
                    stage = MmsStage::Notify;
                }
                MmsStage::Notify => {
                    self.notify_retrieved(job).await?;
                    self.store.mms_advance(job.id, MmsStage::Done, None).map_err(BridgeError::from)?;
                    return Ok(());
                }
                MmsStage::Done | MmsStage::Dead => return Ok(()),
            }
        }
    }

    async fn mms_failed(&self, job: &MmsJob, f: Failure) -> Result<(), BridgeError> {
        // A fetch is retried until the MMSC forgets the message; showing it and telling the
        // MMSC for as long as the homeserver or the MMSC is away. A Matrix refusal of an
        // unknown kind while showing it counts towards bridge.max_attempts.
        let class = match (f.transient, job.stage) {
            (true, _) => Class::Transient,
            (false, MmsStage::Relay) => Class::Unknown,
            (false, _) => Class::Permanent,
        };
        if f.transient {
            match job.stage {
                MmsStage::Relay => self.matrix_failed(),
                _ => self.mmsc_failed(),
            }
        }
        if job.stage == MmsStage::Notify && class != Class::Transient {
            // Shown already; only the MMSC was not told, and cannot be: nothing to recover.
            tracing::warn!(job = job.id, error = %f.message, "the MMSC could not be told the MMS was retrieved");
            self.store.mms_advance(job.id, MmsStage::Done, None)?;
            return Ok(());
        }
        let mut failed = Failed::new(Queue::MmsIn, job.id, job.attempts, &f.message, class);
        if job.stage == MmsStage::Fetch {
            failed = failed.expiring(job.expires_at);
        }
        let from = Address::parse(&job.sender, self.config.bridge.default_region.as_deref());
        let local = self.portal_local(&job.backend_id, &job.recipient);
        let portal_room =
            self.store.portal_by_pair(&local, &from.key)?.filter(|p| !p.owner_left).and_then(|p| p.room_id);
        let owner = self.link_owner(&job.backend_id).filter(|o| !o.is_empty());
        let body = format!(
            "⚠ A picture message (MMS) from {} could not be shown: {}\nSay `retry {}-{}` in the management room to try again.",
            from.display,
            f.message,
            Queue::MmsIn.name(),
            job.id
        );
        let attempt = self.fail_job(failed, |tx, _| {
            // Shown already when only the MMSC was not told: nothing to say.
            if job.stage == MmsStage::Notify {
                return Ok(());
            }
            // The conversation hears about it, even if this was the sender's first message.
            match (&portal_room, &owner) {
                (Some(room), _) => self.notice_tx(tx, room, &body),
                (None, Some(_)) => self.notice_to_conversation_tx(tx, &job.backend_id, &local, &job.sender, &body),
                (None, None) => Ok(()),
            }
        })?;
        let why = match attempt {
            Attempt::Retry(attempts) => {
                tracing::info!(job = job.id, attempts, error = %f.message, "MMS not done yet; will retry");
                return Ok(());
            }
            Attempt::GaveUp(why) => why,
            Attempt::Settled => return Ok(()),
        };
        tracing::warn!(job = job.id, stage = ?job.stage, error = %f.message, "giving up on an MMS");
        self.wake.matrix_out.notify_one();
        if job.stage == MmsStage::Notify {
            return Ok(());
        }
        // Tell the MMSC, or it keeps notifying us of a message we will not take.
        let status = match (job.stage, why) {
            (MmsStage::Fetch, GiveUp::Expired) => EXPIRED,
            // The expiry check at the start of a retry is what fails a job already out of time.
            (MmsStage::Fetch, _) if !f.transient && job.attempts > 0 && now_ms() > job.expires_at => EXPIRED,
            (MmsStage::Relay, _) => UNRECOGNISED,
            _ => REJECTED,
        };
        self.tell_mmsc(&job.transaction_id, &job.version, status);
        Ok(())
    }

    /// Posts the message's parts to the portal: media as m.image/m.video/m.audio/m.file
    /// (a single medium carries the text as its caption), text as m.text; SMIL is layout
    /// only and not shown.
    async fn relay_mms(&self, job: &MmsJob, m: &Message) -> Result<(), Failure> {
        let sender = mms_sender(job, m);
        let region = self.config.bridge.default_region.as_deref();
        let from = Address::parse_cached(&sender, region);
        let owner = self.link_owner(&job.backend_id).ok_or_else(|| Failure::permanent("MMS for an unknown link"))?;
        // Everyone else it was addressed to makes it a group conversation, unless there are
        // so many that it would mean registering and inviting a crowd of ghosts.
        let us = Address::parse_cached(&job.recipient, region).key;
        let recipients = m.to.len() + m.cc.len();
        let max_recipients = self.config.mms.max_recipients;
        let mut others: Vec<Address> = if recipients > max_recipients {
            Vec::new()
        } else {
            m.to.iter()
                .chain(&m.cc)
                .map(|a| Address::parse_cached(&mms::bare_address(a), region))
                .filter(|a| !same_number(&a.key, &us) && !same_number(&a.key, &from.key))
                .collect()
        };
        let portal = if others.is_empty() {
            let local = self.portal_local(&job.backend_id, &job.recipient);
            let portal = self.ensure_portal_at(&job.backend_id, &local, &from, &owner).await?;
            // An owner who left is invited back, as for an SMS.
            self.usable_portal(portal, &from).await?
        } else {
            others.push(from.clone());
            let portal = self.ensure_group_portal(&job.backend_id, &others, &owner).await?;
            self.usable_portal(portal, &from).await?
        };
        let mut portal = portal;
        let ghost = self.ensure_ghost(&from).await?;
        let ts = m.date.map(|d| (d as i64).saturating_mul(1000));
        if recipients > max_recipients {
            let body = format!(
                "📎 This picture message went to a group too large to bridge ({recipients} recipients, limit \
                 {max_recipients}, mms.max_recipients); no group chat was made, so it is shown here."
            );
            let txn = format!("mms-in-{}-group-too-large", job.id);
            let content = super::status::notice(&body);
            if self.store.sent_event(&txn).map_err(BridgeError::from)?.is_none() {
                let room = portal.room_id.as_deref().unwrap_or_default();
                let ev = self.matrix.send(&self.bot, room, &txn, "m.room.message", &content, ts).await;
                let ev = ev.map_err(BridgeError::from)?;
                self.store.record_sent_event(&txn, &ev).map_err(BridgeError::from)?;
            }
        }

        let parts = flatten(&m.parts);
        let (caption, media) = text_and_media(m);
        let mut sent = 0;
        for (i, p) in media.iter().enumerate() {
            let (msgtype, mimetype, info) = describe_media(p);
            let filename =
                mms::safe_filename(p.name().unwrap_or(""), &format!("part{}{}", i + 1, extension(&mimetype)));
            let txn = format!("mms-in-{}-{i}", job.id);
            // Shown by an earlier attempt: neither uploaded nor sent again.
            if self.store.sent_event(&txn).map_err(BridgeError::from)?.is_some() {
                sent += 1;
                continue;
            }
            // An upload whose message did not go out is reused, not made again.
            let upload_key = format!("{txn}/upload");
            let mxc = match self.store.sent_event(&upload_key).map_err(BridgeError::from)? {
                Some(mxc) => mxc,
                None => {
                    let data = p.data.clone();
                    let mxc =
                        self.matrix.upload(&ghost, &mimetype, &filename, data).await.map_err(BridgeError::from)?;
                    self.store.record_sent_event(&upload_key, &mxc).map_err(BridgeError::from)?;
                    mxc
                }
            };
            let with_caption = media.len() == 1 && !caption.is_empty();
            let mut content = json!({
                "msgtype": msgtype,
                "body": if with_caption { caption.clone() } else { filename.clone() },
                "filename": filename,
                "url": mxc,
                "info": info,
            });
            content["info"]["mimetype"] = json!(mimetype);
            content["info"]["size"] = json!(p.data.len());
            let post = GhostPost { ghost: &ghost, txn: &txn, content: &content, ts, retry: job.attempts > 0 };
            self.send_once(&mut portal, &from, &post).await?;
            sent += 1;
        }
        if !caption.is_empty() && media.len() != 1 {
            let txn = format!("mms-in-{}-text", job.id);
            let content = json!({ "msgtype": "m.text", "body": caption });
            let post = GhostPost { ghost: &ghost, txn: &txn, content: &content, ts, retry: job.attempts > 0 };
            self.send_once(&mut portal, &from, &post).await?;
            sent += 1;
        }
        if sent == 0 {
            let txn = format!("mms-in-{}-empty", job.id);
            let content = json!({ "msgtype": "m.notice", "body": "📎 sent an empty picture message." });
            let post = GhostPost { ghost: &ghost, txn: &txn, content: &content, ts, retry: job.attempts > 0 };
            self.send_once(&mut portal, &from, &post).await?;
        }
        tracing::info!(job = job.id, room = ?portal.room_id, parts = parts.len(), "MMS relayed to Matrix");
        Ok(())
    }

    /// Best effort, in the background: tells the MMSC what became of a notification we did
    /// not retrieve (m-notifyresp-ind with `status`).
    fn tell_mmsc(&self, transaction_id: &str, version: &str, status: u8) {
        let cfg = self.config.mms.clone();
        let Some(url) = cfg.mmsc_url.clone() else { return };
        let body = match mms::encode::notifyresp_ind(transaction_id, parse_version(version), status) {
            Ok(b) => b,
            Err(e) => return tracing::warn!(error = %e, "m-notifyresp-ind not encodable"),
        };
        tokio::spawn(async move {
            if let Err(f) = post_to_mmsc(&url, &cfg, body).await {
                tracing::warn!(error = %f.message, status, "could not tell the MMSC about a refused MMS");
            }
        });
    }

    /// Tells the MMSC the message was retrieved (m-notifyresp-ind). Without a configured
    /// MMSC URL there is nowhere to send it.
    async fn notify_retrieved(&self, job: &MmsJob) -> Result<(), Failure> {
        let cfg = &self.config.mms;
        let Some(url) = cfg.mmsc_url.as_deref() else {
            tracing::debug!(job = job.id, "no mms.mmsc_url: m-notifyresp-ind not sent");
            return Ok(());
        };
        let version = parse_version(&job.version);
        let body = mms::encode::notifyresp_ind(&job.transaction_id, version, RETRIEVED)
            .map_err(|e| Failure::permanent(e.to_string()))?;
        post_to_mmsc(url, cfg, body).await.map(drop)
    }
}

/// An m-retrieve-conf whose X-Mms-Retrieve-Status is an error is the MMSC saying no, not
/// a message: temporary (0xC0–0xDF) or for good. Bytes that do not decode pass on, to be
/// kept and reported by the relay stage.
fn check_retrieved(bytes: &[u8], max_parts: usize) -> Result<(), Failure> {
    let Ok(m) = mms::decode_limited(bytes, max_parts) else { return Ok(()) };
    match m.retrieve_status {
        Some(s) if s != 0x80 && m.message_type == MessageType::RETRIEVE_CONF => {
            let name = mms::pdu::retrieve_status_name(s).map(str::to_string).unwrap_or_else(|| format!("0x{s:02x}"));
            let text = m.retrieve_text.map(|t| format!(": {t}")).unwrap_or_default();
            Err(Failure {
                message: format!("the MMSC could not give the message ({name}{text})"),
                transient: (0xC0..0xE0).contains(&s),
            })
        }
        _ => Ok(()),
    }
}

fn parse_version(v: &str) -> (u8, u8) {
    let mut it = v.split('.').map(|n| n.parse().unwrap_or(0));
    (it.next().unwrap_or(1), it.next().unwrap_or(0))
}

/// Parts in reading order, nested multiparts opened. Of a multipart/alternative only one
/// version is shown: the plain text one if there is one, else the first.
fn flatten(parts: &[Part]) -> Vec<&Part> {
    let mut out = Vec::new();
    for p in parts {
        if p.parts.is_empty() {
            out.push(p);
        } else if p.content_type.essence().ends_with("alternative") {
            let plain = p.parts.iter().find(|a| a.content_type.essence() == "text/plain");
            out.extend(flatten(std::slice::from_ref(plain.unwrap_or(&p.parts[0]))));
        } else {
            out.extend(flatten(&p.parts));
        }
    }
    out
}

/// Who sent an MMS: its From, else the notification's sender.
fn mms_sender(job: &MmsJob, m: &Message) -> String {
    match &m.from {
        Some(mms::From::Address(a)) => mms::bare_address(a),
        _ => job.sender.clone(),
    }
}

/// An MMS's text (subject and plain-text parts, one per line) and its media: every other
/// part but SMIL, which is layout only. Other text (a vCard, a calendar entry) is a file.
fn text_and_media(m: &Message) -> (String, Vec<&mms::Part>) {
    let mut texts: Vec<String> = m.subject.iter().filter(|s| !s.trim().is_empty()).cloned().collect();
    let mut media = Vec::new();
    for p in flatten(&m.parts) {
        let essence = p.content_type.essence();
        if essence == "application/smil" {
            continue;
        }
        match p.text() {
            Some(t) if essence == "text/plain" => {
                if !t.text.trim().is_empty() {
                    texts.push(t.text.trim_end().to_string());
                }
            }
            _ => media.push(p),
        }
    }
    (texts.join("\n"), media)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_number_in_national_form_is_us() {
        assert!(same_number("15550001111", "5550001111"));
        assert!(same_number("447700900123", "07700900123"));
        assert!(!same_number("15550001111", "15550001112"));
        assert!(!same_number("12345", "912345"));
        assert!(!same_number("shop", "15550001111"));
    }

    #[test]
    fn alternatives_show_once_and_nested_parts_open() {
        // related [ image, alternative [ text/html, text/plain ] ]
        let inner = [0x02, 0x01, 0x02, 0x82, b'<', b'b', 0x01, 0x02, 0x83, b'h', b'i'];
        let body = [&[0x02, 0x01, 0x01, 0x9E, 0xFF][..], &[0x01, inner.len() as u8, 0xA6][..], &inner[..]].concat();
        let mut m = crate::mms::pdu::decode(&[&[0x8C, 0x84, 0x84, 0xB3][..], &body[..]].concat()).unwrap();
        assert_eq!(m.parts[1].parts.len(), 2);
        let shown: Vec<String> = flatten(&m.parts).iter().map(|p| p.content_type.media.clone()).collect();
        assert_eq!(shown, ["image/jpeg", "text/plain"]);
        m.parts[1].parts.retain(|p| p.content_type.media == "text/html");
        let shown: Vec<String> = flatten(&m.parts).iter().map(|p| p.content_type.media.clone()).collect();
        assert_eq!(shown, ["image/jpeg", "text/html"]);
    }
}
