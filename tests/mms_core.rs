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
use sms_bridge::mms::MessageType;
use sms_bridge::store::Store;
use tokio::sync::mpsc;

const OUR_NUMBER: &str = "+15550001111";
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
        let mmsc = TestMmsc::start().await;
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
  mmsc_url: {url}
  max_size: 200000
{mms_extra}
"#,
            url = mmsc.url()
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
