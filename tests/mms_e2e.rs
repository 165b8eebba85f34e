//! MMS end to end: a real Synapse, the real bridge binary, an independent SMSC (smpp34's
//! server) delivering the WAP push as two deliver_sm, and a test MMSC on loopback.

mod common;

use common::bridge::{setup_full, wait};
use common::mmsc::{TestMmsc, notification_push, png, retrieve_conf};
use common::smsc::{PASSWORD, SYSTEM_ID, Smsc};
use serde_json::Value;
use sms_bridge::mms::MessageType;

const SMPP_NUMBER: &str = "+15550002222";
const PHONE: &str = "+447700900123";
const GHOST: &str = "@sms_447700900123:localhost";
/// Where operators' push gateways send from.
const PUSH_GATEWAY: &str = "+447700900999";

/// Sends a WAP push as the SMSC does: 8-bit data, a UDH with 16-bit ports (2948) and an
/// 8-bit concatenation reference, here in two parts.
async fn deliver_push(smsc: &Smsc, push: &[u8], reference: u8) {
    let half = push.len() / 2;
    for (seq, piece) in [(1u8, &push[..half]), (2, &push[half..])] {
        let mut body = vec![0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, reference, 2, seq];
        body.extend_from_slice(piece);
        assert_eq!(smsc.deliver(PUSH_GATEWAY, SMPP_NUMBER, 0x40, 0x04, &body, &[]).await, 0, "deliver_sm part {seq}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_picture_message_over_smpp_reaches_matrix_and_a_hostile_one_is_refused() {
    let smsc = Smsc::start().await;
    let mmsc = TestMmsc::start().await;
    let backend = format!(
        r#"  - id: smsc
    type: smpp
    number: "{SMPP_NUMBER}"
    host: 127.0.0.1
    port: {port}
    system_id: {SYSTEM_ID}
    password: {PASSWORD}
    owner: "@alice:localhost""#,
        port = smsc.port
    );
    // The test MMSC is on loopback, so private addresses are allowed here; the host
    // allow-list (only the MMSC) still applies.
    let mms = format!("mms:\n  mmsc_url: {}\n  allow_private_addresses: true\n  max_size: 300000", mmsc.url());
    let env = setup_full("    \"@alice:localhost\": admin", &backend, &mms).await;
    let bridge = env.start_bridge(None).await;
    smsc.wait_bound(wait()).await;
    bridge.wait_for_log("SMPP bound", wait()).await;
    let alice = env.hs.register_user("alice").await;

    let image = png(40, 30);
    let message = retrieve_conf(PHONE, &[SMPP_NUMBER], "Greetings from the beach", &image);
    mmsc.put("beach", message.clone());
    deliver_push(&smsc, &notification_push(PHONE, "TX-beach", &mmsc.location("beach"), message.len() as u64), 7).await;

    let portal = alice.wait_for_invite("the portal invite", wait(), |_, _| true).await;
    alice.join(&portal).await;
    let room = portal.clone();
    let content = alice
        .wait_for_event("the image", wait(), move |r, e: &Value| {
            (r == room && e["sender"] == GHOST && e["content"]["msgtype"] == "m.image").then(|| e["content"].clone())
        })
        .await;
    assert_eq!(content["body"], "Greetings from the beach");
    assert_eq!(content["filename"], "photo.png");
    assert_eq!(content["info"]["mimetype"], "image/png");
    assert_eq!(content["info"]["size"], image.len());
    assert_eq!((content["info"]["w"].as_u64(), content["info"]["h"].as_u64()), (Some(40), Some(30)));
    // The bytes in Synapse's media repository are the picture, via authenticated media.
    let mxc = content["url"].as_str().unwrap().trim_start_matches("mxc://").to_string();
    let resp = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v1/media/download/{mxc}", alice.base_url))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "download: {}", resp.status());
    assert_eq!(resp.bytes().await.unwrap().as_ref(), image.as_slice());

    // The MMSC heard m-notifyresp-ind (Retrieved) for the notification's transaction.
    let end = tokio::time::Instant::now() + wait();
    while mmsc.posted().is_empty() {
        assert!(tokio::time::Instant::now() < end, "no m-notifyresp-ind");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let posted = mmsc.posted();
    assert_eq!(posted[0].message_type, MessageType::NOTIFYRESP_IND);
    assert_eq!(posted[0].transaction_id.as_deref(), Some("TX-beach"));
    assert_eq!(posted[0].status, Some(0x81));

    // A push pointing at a cloud metadata address: refused with a notice, never fetched,
    // and the next SMS arrives as usual.
    deliver_push(&smsc, &notification_push(PHONE, "TX-evil", "http://169.254.169.254/latest/meta-data/", 500), 8).await;
    assert_eq!(smsc.deliver(PHONE, SMPP_NUMBER, 0, 0, b"did you get my picture?", &[]).await, 0);
    let room = portal.clone();
    alice
        .wait_for_event("the refusal notice", wait(), move |r, e: &Value| {
            let body = e["content"]["body"].as_str().unwrap_or("");
            (r == room && body.contains("not the configured MMSC")).then_some(())
        })
        .await;
    let room = portal.clone();
    alice
        .wait_for_event("the SMS after it", wait(), move |r, e: &Value| {
            (r == room && e["content"]["body"] == "did you get my picture?").then_some(())
        })
        .await;
    assert_eq!(mmsc.gets("beach"), 1);

    // Matrix → MMS: Alice answers with a picture and a caption; the MMSC receives a valid
    // m-send-req for the phone, and its m-send-conf becomes SUCCESS in Matrix.
    let reply = png(64, 48);
    let upload: Value = reqwest::Client::new()
        .post(format!("{}/_matrix/media/v3/upload?filename=sunset.png", alice.base_url))
        .bearer_auth(&alice.access_token)
        .header("content-type", "image/png")
        .body(reply.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mxc = upload["content_uri"].as_str().expect("an mxc URI").to_string();
    let content = serde_json::json!({
        "msgtype": "m.image", "body": "Sunset here", "filename": "sunset.png", "url": mxc,
        "info": { "mimetype": "image/png", "size": reply.len(), "w": 64, "h": 48 },
    });
    let event_id = alice.send_content(&portal, content).await;
    let end = tokio::time::Instant::now() + wait();
    let req = loop {
        if let Some(m) = mmsc.posted().into_iter().find(|m| m.message_type == MessageType::SEND_REQ) {
            break m;
        }
        assert!(tokio::time::Instant::now() < end, "no m-send-req at the MMSC");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(req.to, [format!("{PHONE}/TYPE=PLMN")]);
    let image_part = req.parts.iter().find(|p| p.content_type.media == "image/png").expect("the picture");
    assert_eq!(image_part.data, reply);
    assert!(req.parts.iter().any(|p| p.text().is_some_and(|t| t.text == "Sunset here")));
    let (ev, room) = (event_id.clone(), portal.clone());
    alice
        .wait_for_event("the MMS status", wait(), move |r, e: &Value| {
            (r == room
                && e["type"] == "com.beeper.message_send_status"
                && e["content"]["m.relates_to"]["event_id"] == ev.as_str()
                && e["content"]["status"] == "SUCCESS")
                .then_some(())
        })
        .await;
    assert!(smsc.handler.accepted().is_empty(), "the picture did not go out as SMS");

    // Declared bigger than mms.max_size: refused before fetching, with a notice.
    mmsc.put("huge", message.clone());
    deliver_push(&smsc, &notification_push(PHONE, "TX-huge", &mmsc.location("huge"), 9_000_000), 9).await;
    let room = portal.clone();
    alice
        .wait_for_event("the size notice", wait(), move |r, e: &Value| {
            let body = e["content"]["body"].as_str().unwrap_or("");
            (r == room && body.contains("over the 300000-byte limit")).then_some(())
        })
        .await;
    assert_eq!(mmsc.gets("huge"), 0);

    // A group MMS (to us and Carol): a group portal with a ghost for each participant.
    const CAROL: &str = "+15557654321";
    const CAROL_GHOST: &str = "@sms_15557654321:localhost";
    mmsc.put("group", retrieve_conf(PHONE, &[SMPP_NUMBER, CAROL], "Hi both of you", &png(10, 10)));
    deliver_push(&smsc, &notification_push(PHONE, "TX-group", &mmsc.location("group"), 2000), 10).await;
    let first = portal.clone();
    let group = alice.wait_for_invite("the group portal invite", wait(), move |r, _| r != first).await;
    alice.join(&group).await;
    let room = group.clone();
    alice
        .wait_for_event("the group message", wait(), move |r, e: &Value| {
            (r == room && e["sender"] == GHOST && e["content"]["body"] == "Hi both of you").then_some(())
        })
        .await;
    let state = alice.room_state(&group).await;
    let joined: Vec<&str> = state
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.member" && e["content"]["membership"] == "join")
        .filter_map(|e| e["state_key"].as_str())
        .collect();
    for ghost in [GHOST, CAROL_GHOST] {
        assert!(joined.contains(&ghost), "{ghost} not joined: {joined:?}");
    }
    let name =
        state.as_array().unwrap().iter().find(|e| e["type"] == "m.room.name").unwrap()["content"]["name"].clone();
    assert!(name.as_str().unwrap().starts_with("Group: "), "{name}");
}
