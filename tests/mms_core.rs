//! MMS reception in the bridge core: `MemoryMatrix`, the test link, and a real HTTP test
//! MMSC on loopback; the workers are driven step by step.

mod common;

use std::sync::Arc;

use common::mmsc::{TestMmsc, notification_push, png, retrieve_conf};
use serde_json::Value;
use sms_bridge::backend::test::TestBackend;
use sms_bridge::backend::{Backend, EventSink, LinkState, ReceivedSms};
use sms_bridge::bridge::Bridge;
use sms_bridge::config::{Config, Purpose, TestBackendConfig};
use sms_bridge::matrix::{MatrixApi, MemoryMatrix};
use sms_bridge::mms::{self, MessageType};
use sms_bridge::store::Store;
use tokio::sync::mpsc;

const OUR_NUMBER: &str = "+15550001111";
const ALICE: &str = "@alice:example.org";
const BOB: &str = "+15551234567";
const BOB_GHOST: &str = "@sms_15551234567:example.org";
/// The operator's push gateway: the SMS comes from it, the MMS from Bob.
const PUSH_GATEWAY: &str = "+15550009999";

struct Harness {
    _dir: tempfile::TempDir,
    matrix: Arc<MemoryMatrix>,
    bridge: Arc<Bridge>,
    backend: Arc<TestBackend>,
    mmsc: TestMmsc,
    _states: mpsc::UnboundedReceiver<(String, LinkState)>,
}

impl Harness {
    async fn new(mms_extra: &str) -> Harness {
        Harness::build(true, mms_extra).await
    }

    async fn build(with_mmsc: bool, mms_extra: &str) -> Harness {
        let mmsc = TestMmsc::start().await;
        let mmsc_line = if with_mmsc { format!("  mmsc_url: {}", mmsc.url()) } else { String::new() };
        let config = format!(
            r#"
homeserver:
  address: http://localhost:8008
  domain: example.org
appservice:
  address: http://localhost:29330
  as_token: aaaa
  hs_token: bbbb
bridge:
  default_region: US
  permissions:
    "@alice:example.org": admin
backends:
  - id: test1
    type: test
    number: "{OUR_NUMBER}"
mms:
{mmsc_line}
  max_size: 200000
{mms_extra}
"#
        );
        let config = Config::parse(&config, Purpose::Run).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("bridge.db")).unwrap();
        let matrix = Arc::new(MemoryMatrix::new("example.org"));
        matrix.register("smsbot").await.unwrap();
        let backend = Arc::new(TestBackend::new("test1", OUR_NUMBER, TestBackendConfig::default()));
        let backend_dyn: Arc<dyn Backend> = backend.clone();
        let bridge = Bridge::new(config, store.clone(), matrix.clone(), vec![backend_dyn]);
        let (tx, states) = mpsc::unbounded_channel();
        backend.clone().start(EventSink::new("test1", store, bridge.wake.inbox.clone(), tx)).await.unwrap();
        Harness { _dir: dir, matrix, bridge, backend, mmsc, _states: states }
    }

    async fn settle(&self) {
        for _ in 0..20 {
            let more = self.bridge.drain_inbox().await.unwrap() | self.bridge.drain_mms().await.unwrap();
            self.bridge.send_matrix_jobs().await.unwrap();
            if !more && self.bridge.store.due_mms(10).unwrap().is_empty() {
                return;
            }
        }
    }

    /// Bob's portal, made by an SMS from him.
    async fn bob_portal(&self) -> String {
        let sms = ReceivedSms { from: BOB.into(), to: String::new(), text: "hi".into(), timestamp_ms: None };
        self.backend.inject(sms).unwrap();
        self.settle().await;
        self.bridge.store.portal_by_pair(OUR_NUMBER, "15551234567").unwrap().unwrap().room_id.unwrap()
    }

    /// Alice sends `content` in `room`; the bridge handles it and sends what it queued.
    async fn alice_sends(&self, room: &str, content: Value) -> String {
        let n = self.matrix.events().len();
        let event_id = format!("$alice{n}");
        let ev = serde_json::json!({
            "type": "m.room.message", "sender": ALICE, "room_id": room, "event_id": event_id,
            "origin_server_ts": 1, "content": content,
        });
        assert!(self.bridge.accept_transaction(&format!("t{n}"), &[ev]).unwrap());
        self.bridge.handle_pending_events().await.unwrap();
        self.bridge.send_due_mms().await.unwrap();
        self.bridge.send_matrix_jobs().await.unwrap();
        event_id
    }

    /// The latest message status the bridge sent for `event_id`.
    fn status_of(&self, event_id: &str) -> Option<Value> {
        self.matrix
            .events()
            .into_iter()
            .rev()
            .find(|e| {
                e.event_type == "com.beeper.message_send_status" && e.content["m.relates_to"]["event_id"] == event_id
            })
            .map(|e| e.content)
    }

    /// Messages in Bob's portal, oldest first.
    fn bob_messages(&self) -> Vec<Value> {
        let room = self.bridge.store.portal_by_pair(OUR_NUMBER, "15551234567").unwrap().and_then(|p| p.room_id);
        let Some(room) = room else { return vec![] };
        self.matrix
            .events_in(&room)
            .into_iter()
            .filter(|e| e.event_type == "m.room.message")
            .map(|e| e.content)
            .collect()
    }
}

#[tokio::test]
async fn a_picture_message_arrives_as_an_image_with_its_caption_and_the_mmsc_is_told() {
    let h = Harness::new("  allow_private_addresses: true").await;
    let image = png(40, 30);
    let mms = retrieve_conf(BOB, &[OUR_NUMBER], "Look at this!", &image);
    h.mmsc.put("m1", mms.clone());
    let push = notification_push(BOB, "T-1", &h.mmsc.location("m1"), mms.len() as u64);
    h.backend.inject_wap_push(PUSH_GATEWAY, push.clone()).unwrap();
    h.settle().await;

    let msgs = h.bob_messages();
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    let m = &msgs[0];
    assert_eq!(m["msgtype"], "m.image");
    assert_eq!(m["body"], "Look at this!");
    assert_eq!(m["filename"], "photo.png");
    assert_eq!(m["info"]["mimetype"], "image/png");
    assert_eq!(m["info"]["size"], image.len());
    assert_eq!((m["info"]["w"].as_u64(), m["info"]["h"].as_u64()), (Some(40), Some(30)));
    let uploads = h.matrix.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!((uploads[0].mxc.as_str(), uploads[0].data.as_slice()), (m["url"].as_str().unwrap(), image.as_slice()));
    assert_eq!(uploads[0].sender, BOB_GHOST);

    let posted = h.mmsc.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].message_type, MessageType::NOTIFYRESP_IND);
    assert_eq!(posted[0].transaction_id.as_deref(), Some("T-1"));
    assert_eq!(posted[0].status, Some(0x81));
    assert_eq!(posted[0].version, Some((1, 2)));

    // The operator repeats the notification: nothing is fetched or shown twice.
    h.backend.inject_wap_push(PUSH_GATEWAY, push).unwrap();
    h.settle().await;
    assert_eq!(h.bob_messages().len(), 1);
    assert_eq!(h.mmsc.gets("m1"), 1);
    assert_eq!(h.bridge.store.mms_counts().unwrap(), (0, 0));
}

#[tokio::test]
async fn an_mmsc_that_is_down_is_retried_and_nothing_is_lost() {
    let h = Harness::new("  allow_private_addresses: true").await;
    let mms = retrieve_conf(BOB, &[OUR_NUMBER], "later", &png(8, 8));
    h.mmsc.put("m2", mms.clone());
    *h.mmsc.shared.fail_with.lock().unwrap() = Some(503);
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-2", &h.mmsc.location("m2"), 1000)).unwrap();
    h.settle().await;
    assert!(h.bob_messages().is_empty());
    assert_eq!(h.bridge.store.mms_counts().unwrap(), (1, 0), "waiting, not dead");
    *h.mmsc.shared.fail_with.lock().unwrap() = None;
    // Make the retry due now instead of in a few seconds.
    h.bridge.store.tx(|tx| Ok(tx.execute("UPDATE mms_in SET next_attempt_at = 0", [])?)).unwrap();
    h.settle().await;
    let msgs = h.bob_messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["body"], "later");
}

#[tokio::test]
async fn hostile_or_oversized_notifications_are_refused_with_a_notice_and_sms_keep_flowing() {
    // Loopback not allowed here: the default.
    let h = Harness::new("").await;
    let mms = retrieve_conf(BOB, &[OUR_NUMBER], "x", &png(8, 8));
    h.mmsc.put("m3", mms);
    // 1. The MMSC's own host, but it is loopback.
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-3", &h.mmsc.location("m3"), 1000)).unwrap();
    // 2. A host that is not the MMSC (cloud metadata address).
    h.backend
        .inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-4", "http://169.254.169.254/latest/meta-data", 1000))
        .unwrap();
    // 3. Declared over mms.max_size.
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-5", &h.mmsc.location("m3"), 10_000_000)).unwrap();
    // 4. Garbage on port 2948.
    h.backend.inject_wap_push(PUSH_GATEWAY, vec![0x01, 0x06, 0x7f, 0xff]).unwrap();
    // And an ordinary SMS after all that.
    let sms =
        ReceivedSms { from: BOB.into(), to: String::new(), text: "plain text still works".into(), timestamp_ms: None };
    h.backend.inject(sms).unwrap();
    h.settle().await;

    assert_eq!(h.mmsc.gets("m3"), 0, "nothing fetched");
    let room = h.bridge.store.portal_by_pair(OUR_NUMBER, "15551234567").unwrap().unwrap().room_id.unwrap();
    let texts: Vec<String> =
        h.matrix.events_in(&room).iter().filter_map(|e| e.content["body"].as_str().map(str::to_string)).collect();
    let has = |needle: &str| texts.iter().any(|t| t.contains(needle));
    assert!(has("internal address 127.0.0.1"), "{texts:#?}");
    assert!(has("not the configured MMSC"), "{texts:#?}");
    assert!(has("over the 200000-byte limit"), "{texts:#?}");
    assert!(has("plain text still works"), "{texts:#?}");
    assert_eq!(h.bridge.store.mms_counts().unwrap(), (0, 2));
    // Unreadable, the push names nobody but the gateway that sent it: its chat hears of it.
    let gateway = h.bridge.store.portal_by_pair(OUR_NUMBER, "15550009999").unwrap().unwrap().room_id.unwrap();
    let notices: Vec<Value> = h.matrix.events_in(&gateway).into_iter().map(|e| e.content).collect();
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(notices[0]["msgtype"], "m.notice");
    assert!(notices[0]["body"].as_str().unwrap().contains("could not be read"), "{notices:#?}");
}

/// Bob's m-retrieve-conf to `to`, with `parts` text parts.
fn retrieve_conf_with_parts(to: &[&str], parts: usize) -> Vec<u8> {
    let mut m = mms::decode(&retrieve_conf(BOB, to, "x", &png(4, 4))).unwrap();
    m.parts = (0..parts)
        .map(|i| mms::Part::new(mms::ContentType::new("text/plain"), format!("part {i}").into_bytes()))
        .collect();
    mms::encode(&m).unwrap()
}

#[tokio::test]
async fn an_mms_with_too_many_parts_is_refused_with_a_notice_and_sms_keep_flowing() {
    let h = Harness::new("  allow_private_addresses: true").await;
    let mms = retrieve_conf_with_parts(&[OUR_NUMBER], 60);
    h.mmsc.put("many", mms.clone());
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-many", &h.mmsc.location("many"), 1000)).unwrap();
    let sms = ReceivedSms { from: BOB.into(), to: String::new(), text: "still here".into(), timestamp_ms: None };
    h.backend.inject(sms).unwrap();
    h.settle().await;

    assert_eq!(h.mmsc.gets("many"), 1);
    let bodies: Vec<String> = h.bob_messages().iter().map(|m| m["body"].as_str().unwrap().to_string()).collect();
    assert!(bodies.iter().any(|b| b == "still here"), "{bodies:#?}");
    let notice = bodies.iter().find(|b| b.contains("could not be shown")).expect("a notice");
    assert!(notice.contains("it has 60 parts, more than the 50 allowed (mms.max_parts)"), "{notice}");
    assert!(!bodies.iter().any(|b| b.contains("part 0")), "no part was shown: {bodies:#?}");
    assert!(h.matrix.uploads().is_empty());
    assert_eq!(h.bridge.store.mms_counts().unwrap(), (0, 1), "given up, not retried");

    // At the limit it is shown.
    let h = Harness::new("  allow_private_addresses: true\n  max_parts: 60").await;
    h.mmsc.put("many", mms);
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-many", &h.mmsc.location("many"), 1000)).unwrap();
    h.settle().await;
    assert_eq!(h.bob_messages().len(), 1);
    assert!(h.bob_messages()[0]["body"].as_str().unwrap().starts_with("part 0\npart 1\n"));
}

#[tokio::test]
async fn an_mms_to_too_many_people_goes_to_the_senders_portal_with_a_notice() {
    let h = Harness::new("  allow_private_addresses: true").await;
    let crowd: Vec<String> = (0..24).map(|i| format!("+1555700{i:04}")).collect();
    let to: Vec<&str> = [OUR_NUMBER].into_iter().chain(crowd.iter().map(String::as_str)).collect();
    assert_eq!(to.len(), 25);
    let mms = retrieve_conf(BOB, &to, "hello all", &png(4, 4));
    h.mmsc.put("crowd", mms);
    h.backend
        .inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-crowd", &h.mmsc.location("crowd"), 1000))
        .unwrap();
    h.settle().await;

    let portals = h.bridge.store.portals(None).unwrap();
    assert_eq!(portals.iter().map(|p| p.remote_key.as_str()).collect::<Vec<_>>(), ["15551234567"], "no group portal");
    assert!(!h.matrix.is_registered("@sms_15557000000:example.org"), "no ghost for the crowd");
    let msgs = h.bob_messages();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert_eq!(msgs[0]["msgtype"], "m.notice");
    let notice = msgs[0]["body"].as_str().unwrap();
    assert!(notice.contains("(25 recipients, limit 20, mms.max_recipients)"), "{notice}");
    assert_eq!((msgs[1]["msgtype"].as_str(), msgs[1]["body"].as_str()), (Some("m.image"), Some("hello all")));
}

#[tokio::test]
async fn a_group_mms_lands_in_a_group_portal_with_every_participant() {
    let h = Harness::new("  allow_private_addresses: true").await;
    const CAROL: &str = "+15557654321";
    const DAVE: &str = "+447700900123";
    for (id, to) in [("g1", vec![OUR_NUMBER, CAROL, DAVE]), ("g2", vec![DAVE, OUR_NUMBER, CAROL])] {
        let mms = retrieve_conf(BOB, &to, &format!("group {id}"), &png(4, 4));
        h.mmsc.put(id, mms);
        h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, id, &h.mmsc.location(id), 1000)).unwrap();
    }
    h.settle().await;
    // Same people, in another order: the same portal.
    let key = "group-15551234567-15557654321-447700900123";
    let portal = h.bridge.store.portal_by_pair(OUR_NUMBER, key).unwrap().expect("a group portal");
    let room = portal.room_id.unwrap();
    assert_eq!(portal.remote_destination.as_deref(), Some("+15551234567,+15557654321,+447700900123"));
    let members = h.matrix.members(&room);
    for ghost in [BOB_GHOST, "@sms_15557654321:example.org", "@sms_447700900123:example.org"] {
        assert!(members.contains(ghost), "{ghost} not in {members:?}");
    }
    let spec = h.matrix.rooms().into_iter().find(|(r, _)| *r == room).unwrap().1;
    assert!(spec.name.unwrap().starts_with("Group: "));
    assert!(!spec.is_direct);
    let bodies: Vec<(String, Value)> = h
        .matrix
        .events_in(&room)
        .into_iter()
        .filter(|e| e.event_type == "m.room.message")
        .map(|e| (e.sender, e.content["body"].clone()))
        .collect();
    assert_eq!(bodies, vec![(BOB_GHOST.to_string(), "group g1".into()), (BOB_GHOST.to_string(), "group g2".into())]);
    // Bob alone has no 1:1 portal from this.
    assert!(h.bridge.store.portal_by_pair(OUR_NUMBER, "15551234567").unwrap().is_none());
}

#[tokio::test]
async fn a_picture_from_matrix_goes_to_the_mmsc_as_m_send_req_and_gets_its_status() {
    let h = Harness::new("").await;
    let room = h.bob_portal().await;
    let image = png(40, 30);
    let mxc = h.matrix.upload(ALICE, "image/png", "cat.png", image.clone()).await.unwrap();
    let content = serde_json::json!({
        "msgtype": "m.image", "body": "my cat", "filename": "cat.png", "url": mxc,
        "info": { "mimetype": "image/png", "size": image.len(), "w": 40, "h": 30 },
    });
    let ev = h.alice_sends(&room, content).await;

    let posted = h.mmsc.posted();
    assert_eq!(posted.len(), 1);
    let req = &posted[0];
    assert_eq!(req.message_type, MessageType::SEND_REQ);
    assert_eq!(req.to, ["+15551234567/TYPE=PLMN"]);
    assert_eq!(req.from, Some(mms::From::Insert));
    let kinds: Vec<&str> = req.parts.iter().map(|p| p.content_type.media.as_str()).collect();
    assert_eq!(kinds, ["application/smil", "image/png", "text/plain"]);
    assert_eq!(req.parts[1].data, image);
    assert_eq!(req.parts[1].name(), Some("cat.png"));
    assert_eq!(req.parts[2].text().unwrap().text, "my cat");
    assert_eq!(h.status_of(&ev).unwrap()["status"], "SUCCESS");
    // No SMS went out for it.
    assert!(h.backend.sent().is_empty());
}

#[tokio::test]
async fn a_big_picture_is_scaled_down_to_the_carrier_limit() {
    let h = Harness::new("  max_send_size: 100000").await;
    let room = h.bob_portal().await;
    let mut x = 7u32;
    let big = image::RgbImage::from_fn(1600, 1200, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut png_bytes = std::io::Cursor::new(Vec::new());
    big.write_to(&mut png_bytes, image::ImageFormat::Png).unwrap();
    let png_bytes = png_bytes.into_inner();
    assert!(png_bytes.len() > 1_000_000);
    let mxc = h.matrix.upload(ALICE, "image/png", "big.png", png_bytes).await.unwrap();
    let ev = h.alice_sends(&room, serde_json::json!({ "msgtype": "m.image", "body": "big.png", "url": mxc })).await;
    let req = h.mmsc.posted().remove(0);
    let sent = &req.parts[1];
    assert_eq!(sent.content_type.media, "image/jpeg");
    assert_eq!(sent.name(), Some("big.jpg"));
    let encoded = mms::encode(&req).unwrap();
    assert!(encoded.len() <= 100_000, "{} bytes on the wire", encoded.len());
    let decoded = image::load_from_memory(&sent.data).unwrap();
    assert_eq!(decoded.width() * 3, decoded.height() * 4);
    // No caption: the body was the file name.
    assert_eq!(req.parts.len(), 2);
    assert_eq!(h.status_of(&ev).unwrap()["status"], "SUCCESS");
}

#[tokio::test]
async fn a_reply_in_a_group_portal_goes_to_everyone_as_mms() {
    let h = Harness::new("  allow_private_addresses: true").await;
    const CAROL: &str = "+15557654321";
    h.mmsc.put("g", retrieve_conf(BOB, &[OUR_NUMBER, CAROL], "hi all", &png(4, 4)));
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "g", &h.mmsc.location("g"), 1000)).unwrap();
    h.settle().await;
    let portal = h.bridge.store.portal_by_pair(OUR_NUMBER, "group-15551234567-15557654321").unwrap().unwrap();
    let ev =
        h.alice_sends(&portal.room_id.unwrap(), serde_json::json!({ "msgtype": "m.text", "body": "hello both" })).await;
    let req = h.mmsc.posted().into_iter().find(|m| m.message_type == MessageType::SEND_REQ).expect("an m-send-req");
    assert_eq!(req.to, ["+15551234567/TYPE=PLMN", "+15557654321/TYPE=PLMN"]);
    assert_eq!(req.parts.last().unwrap().text().unwrap().text, "hello both");
    assert_eq!(h.status_of(&ev).unwrap()["status"], "SUCCESS");
    assert!(h.backend.sent().is_empty(), "no SMS to a group");
}

#[tokio::test]
async fn without_an_mmsc_a_picture_is_refused_with_a_clear_notice() {
    let h = Harness::build(false, "").await;
    let room = h.bob_portal().await;
    let mxc = h.matrix.upload(ALICE, "image/png", "x.png", png(4, 4)).await.unwrap();
    let ev = h.alice_sends(&room, serde_json::json!({ "msgtype": "m.image", "body": "x.png", "url": mxc })).await;
    let status = h.status_of(&ev).unwrap();
    assert_eq!(status["status"], "FAIL_PERMANENT");
    let notices: Vec<String> = h
        .matrix
        .events_in(&room)
        .into_iter()
        .filter(|e| e.content["msgtype"] == "m.notice")
        .map(|e| e.content["body"].as_str().unwrap().to_string())
        .collect();
    assert!(notices.iter().any(|n| n.contains("no MMSC configured")), "{notices:?}");
    assert!(h.mmsc.posted().is_empty());
}

#[tokio::test]
async fn backends_reports_the_mms_setup_and_queue() {
    use sms_bridge::matrix::RoomSpec;
    for (with_mmsc, want) in [(true, "MMS via http://"), (false, "MMS: no MMSC configured")] {
        let h = Harness::build(with_mmsc, "").await;
        let spec = RoomSpec {
            creator: ALICE.into(),
            invite: vec!["@smsbot:example.org".into()],
            is_direct: true,
            ..Default::default()
        };
        let mgmt = h.matrix.create_room(&spec).await.unwrap();
        let invite = serde_json::json!({
            "type": "m.room.member", "state_key": "@smsbot:example.org", "sender": ALICE, "room_id": mgmt,
            "event_id": "$invite", "origin_server_ts": 1, "content": {"membership": "invite", "is_direct": true},
        });
        h.bridge.accept_transaction("t-invite", &[invite]).unwrap();
        h.bridge.handle_pending_events().await.unwrap();
        h.alice_sends(&mgmt, serde_json::json!({ "msgtype": "m.text", "body": "backends" })).await;
        let reply = h
            .matrix
            .events_in(&mgmt)
            .into_iter()
            .rev()
            .find_map(|e| e.content["body"].as_str().filter(|b| b.starts_with("SMS links:")).map(str::to_string));
        let reply = reply.expect("a backends answer");
        assert!(reply.contains(want), "{reply}");
        assert!(reply.contains("0 incoming waiting, 0 given up"), "{reply}");
    }
}

/// Waits (briefly) until the test MMSC has had `n` POSTs: refusals are told in the background.
async fn wait_posts(h: &Harness, n: usize) -> Vec<mms::Message> {
    for _ in 0..200 {
        if h.mmsc.posted().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    h.mmsc.posted()
}

#[tokio::test]
async fn an_mmsc_that_answers_with_an_error_status_is_not_shown_as_a_message() {
    let h = Harness::new("  allow_private_addresses: true").await;
    let mut gone = mms::Message::new(MessageType::RETRIEVE_CONF);
    gone.version = Some((1, 2));
    gone.retrieve_status = Some(0xE2);
    gone.retrieve_text = Some("expired at the MMSC".into());
    h.mmsc.put("gone", mms::encode(&gone).unwrap());
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-gone", &h.mmsc.location("gone"), 1000)).unwrap();
    h.settle().await;
    let room = h.bridge.store.portal_by_pair(OUR_NUMBER, "15551234567").unwrap().unwrap().room_id.unwrap();
    let bodies: Vec<String> =
        h.matrix.events_in(&room).iter().filter_map(|e| e.content["body"].as_str().map(str::to_string)).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("Error-permanent-message-not-found: expired at the MMSC"), "{bodies:?}");
    let posted = wait_posts(&h, 1).await;
    assert_eq!(posted.len(), 1);
    assert_eq!((posted[0].transaction_id.as_deref(), posted[0].status), (Some("T-gone"), Some(0x82)), "Rejected");
    assert_eq!(h.bridge.store.mms_counts().unwrap(), (0, 1));
}

#[tokio::test]
async fn a_refused_notification_is_rejected_at_the_mmsc_and_a_repeat_of_a_dead_one_is_retried() {
    let h = Harness::new("  allow_private_addresses: true").await;
    // Too big: refused at once, and the MMSC hears Rejected.
    h.backend
        .inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-big", &h.mmsc.location("big"), 9_999_999))
        .unwrap();
    h.settle().await;
    let posted = wait_posts(&h, 1).await;
    assert_eq!((posted[0].transaction_id.as_deref(), posted[0].status), (Some("T-big"), Some(0x82)));

    // Not there (404): given up. The MMSC notifies again once it has it: tried again.
    let push = notification_push(BOB, "T-late", &h.mmsc.location("late"), 1000);
    h.backend.inject_wap_push(PUSH_GATEWAY, push.clone()).unwrap();
    h.settle().await;
    assert_eq!(h.bridge.store.mms_counts().unwrap(), (0, 1));
    h.mmsc.put("late", retrieve_conf(BOB, &[OUR_NUMBER], "finally", &png(4, 4)));
    h.backend.inject_wap_push(PUSH_GATEWAY, push).unwrap();
    h.settle().await;
    assert_eq!(h.bridge.store.mms_counts().unwrap(), (0, 0));
    assert!(h.bob_messages().iter().any(|m| m["body"] == "finally"));
}

#[tokio::test]
async fn mms_to_one_chat_keep_their_order_when_the_first_must_wait() {
    let h = Harness::new("").await;
    let room = h.bob_portal().await;
    *h.mmsc.shared.fail_posts_with.lock().unwrap() = Some(503);
    let first = h.alice_sends(&room, serde_json::json!({ "msgtype": "m.file", "body": "a.txt", "url": h.matrix.upload(ALICE, "text/plain", "a.txt", b"first".to_vec()).await.unwrap() })).await;
    assert_eq!(h.status_of(&first).unwrap()["status"], "FAIL_RETRIABLE");
    *h.mmsc.shared.fail_posts_with.lock().unwrap() = None;
    let second = h.alice_sends(&room, serde_json::json!({ "msgtype": "m.file", "body": "b.txt", "url": h.matrix.upload(ALICE, "text/plain", "b.txt", b"second".to_vec()).await.unwrap() })).await;
    assert!(h.mmsc.posted().is_empty(), "the second overtook the first");
    h.bridge.store.tx(|tx| Ok(tx.execute("UPDATE mms_out SET next_attempt_at = 0", [])?)).unwrap();
    for _ in 0..2 {
        h.bridge.send_due_mms().await.unwrap();
    }
    h.bridge.send_matrix_jobs().await.unwrap();
    let names: Vec<Option<String>> = h.mmsc.posted().iter().map(|m| m.parts[1].name().map(str::to_string)).collect();
    assert_eq!(names, [Some("a.txt".to_string()), Some("b.txt".to_string())]);
    assert_eq!(h.status_of(&first).unwrap()["status"], "SUCCESS");
    assert_eq!(h.status_of(&second).unwrap()["status"], "SUCCESS");
}

#[tokio::test]
async fn a_homeserver_that_forgot_its_transaction_ids_gets_no_part_twice() {
    let h = Harness::new("  allow_private_addresses: true").await;
    h.bob_portal().await;
    let mut m = mms::send_req(
        "unused",
        &[OUR_NUMBER.to_string()],
        None,
        Some("two pictures"),
        &[
            mms::Attachment { content_type: "image/png".into(), filename: "a.png".into(), data: png(20, 10) },
            mms::Attachment { content_type: "image/png".into(), filename: "b.png".into(), data: png(10, 20) },
        ],
    );
    m.message_type = MessageType::RETRIEVE_CONF;
    m.transaction_id = None;
    m.from = Some(mms::From::Address(format!("{BOB}/TYPE=PLMN")));
    h.mmsc.put("two", mms::encode(&m).unwrap());
    // The first picture goes in, then the homeserver goes away and, when it is back, has
    // forgotten every transaction id (a restart, or hours later on Synapse).
    h.matrix.fail_send_after(1);
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-two", &h.mmsc.location("two"), 900)).unwrap();
    h.settle().await;
    let files = |h: &Harness| {
        h.bob_messages().iter().filter(|c| c["msgtype"] == "m.image").map(|c| c["filename"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(files(&h), ["a.png"]);
    h.matrix.forget_transactions(true);
    h.bridge.store.wake_waiting(sms_bridge::store::Queue::MmsIn, None).unwrap();
    h.settle().await;
    assert_eq!(files(&h), ["a.png", "b.png"], "each picture once");
    let texts: Vec<Value> = h.bob_messages().into_iter().filter(|c| c["body"] == "two pictures").collect();
    assert_eq!(texts.len(), 1, "the text once");
    assert_eq!(h.matrix.uploads().len(), 2, "nothing uploaded twice");
}

#[tokio::test]
async fn an_owner_who_left_is_invited_back_by_the_next_picture_message() {
    let h = Harness::new("  allow_private_addresses: true").await;
    let room = h.bob_portal().await;
    h.matrix.join(ALICE, &room).await.unwrap();
    h.matrix.leave(ALICE, &room, None).await.unwrap();
    let leave = serde_json::json!({
        "type": "m.room.member", "state_key": ALICE, "sender": ALICE, "room_id": room,
        "event_id": "$alice-left", "content": {"membership": "leave"},
    });
    assert!(h.bridge.accept_transaction("t-leave", &[leave]).unwrap());
    h.bridge.handle_pending_events().await.unwrap();
    assert!(h.bridge.store.portal_by_room(&room).unwrap().unwrap().owner_left);

    let mms = retrieve_conf(BOB, &[OUR_NUMBER], "while you were away", &png(20, 10));
    h.mmsc.put("away", mms.clone());
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-away", &h.mmsc.location("away"), 900)).unwrap();
    h.settle().await;
    assert!(h.matrix.invited(&room).contains(ALICE), "the owner is invited back by the picture message");
    assert!(!h.bridge.store.portal_by_room(&room).unwrap().unwrap().owner_left);
    let bodies: Vec<Value> = h.bob_messages().into_iter().map(|c| c["body"].clone()).collect();
    assert_eq!(bodies, ["hi", "while you were away"]);
}

#[tokio::test]
async fn a_kicked_ghost_is_brought_back_by_the_next_picture_message() {
    let h = Harness::new("  allow_private_addresses: true").await;
    let room = h.bob_portal().await;
    h.matrix.leave(BOB_GHOST, &room, None).await.unwrap();
    h.mmsc.put("back", retrieve_conf(BOB, &[OUR_NUMBER], "I'm back", &png(20, 10)));
    h.backend.inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-back", &h.mmsc.location("back"), 900)).unwrap();
    h.settle().await;
    assert!(h.matrix.members(&room).contains(BOB_GHOST), "the bot invited the ghost back and it joined");
    let bodies: Vec<Value> = h.bob_messages().into_iter().map(|c| c["body"].clone()).collect();
    assert_eq!(bodies, ["hi", "I'm back"]);
}

#[tokio::test]
async fn applications_hear_of_an_mms_with_links_to_its_media_before_matrix_does() {
    // The webhook's endpoint, and the gateway's address (known before the config is).
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook.local_addr().unwrap());
    let got: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let app =
        axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |axum::extract::State(g): axum::extract::State<Arc<std::sync::Mutex<Vec<String>>>>,
                     body: String| async move {
                        g.lock().unwrap().push(body);
                        "ok"
                    },
                ),
            )
            .with_state(got.clone());
    tokio::spawn(async move { axum::serve(hook, app).await.unwrap() });
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_base = format!("http://{}", api.local_addr().unwrap());
    let extra = format!(
        "  allow_private_addresses: true\ngateway:\n  listen: 127.0.0.1:0\n  public_url: {api_base}/\n  users:\n    - username: app\n      token: tok-0123456789abcdef\n  webhooks:\n    - url: {hook_url}\n      numbers: [\"5551234567\"]\n"
    );
    let h = Harness::new(&extra).await;
    let router = sms_bridge::api::router(h.bridge.clone());
    tokio::spawn(async move { axum::serve(api, router).await.unwrap() });

    let image = png(20, 10);
    let mms = retrieve_conf(BOB, &[OUR_NUMBER], "Look at this!", &image);
    h.mmsc.put("m9", mms.clone());
    h.backend
        .inject_wap_push(PUSH_GATEWAY, notification_push(BOB, "T-9", &h.mmsc.location("m9"), mms.len() as u64))
        .unwrap();
    // The homeserver is away: the MMS cannot be shown, but applications hear of it.
    h.matrix.set_down(true);
    for _ in 0..3 {
        let _ = h.bridge.drain_inbox().await;
        let _ = h.bridge.drain_mms().await;
    }
    h.bridge.drain_callbacks().await.unwrap();
    assert!(h.bob_messages().is_empty());
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let v: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["from"].as_str(), v["to"].as_str()),
        (Some("mms"), Some(BOB), Some(OUR_NUMBER)),
        "{v}"
    );
    assert_eq!(v["text"], "Look at this!");
    let media = v["media"].as_array().unwrap();
    assert_eq!(media.len(), 1, "{v}");
    assert_eq!(
        (media[0]["content_type"].as_str(), media[0]["size"].as_u64()),
        (Some("image/png"), Some(image.len() as u64))
    );
    let url = media[0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{api_base}/api/v1/media/")), "{url}");
    let answer = reqwest::get(url).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "image/png");
    assert_eq!(answer.bytes().await.unwrap().as_ref(), image.as_slice());
    // The token is the credential.
    let forged = format!("{}0", url.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    assert_eq!(reqwest::get(&forged).await.unwrap().status(), 404);

    // The homeserver is back: the MMS is shown, and applications are not told twice.
    h.matrix.set_down(false);
    let db = rusqlite::Connection::open(h._dir.path().join("bridge.db")).unwrap();
    db.execute_batch("UPDATE mms_in SET next_attempt_at = 0; UPDATE inbox SET next_attempt_at = 0").unwrap();
    h.settle().await;
    h.bridge.drain_callbacks().await.unwrap();
    assert_eq!(h.bob_messages().len(), 1);
    assert_eq!(got.lock().unwrap().len(), 1);
}
