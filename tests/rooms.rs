//! Portals people leave, delete or redact in, and conversations with several of our
//! numbers: `MemoryMatrix` and the test link, driven step by step.

mod common;

use common::core::*;
use serde_json::json;
use sms_bridge::backend::ReceivedSms;
use sms_bridge::backend::test::Fault;
use sms_bridge::matrix::MatrixApi;
use sms_bridge::store::OutState;

/// A membership event as the homeserver would send it to the bridge.
fn membership(h: &Harness, room: &str, sender: &str, target: &str, membership: &str) -> serde_json::Value {
    json!({
        "type": "m.room.member", "state_key": target, "sender": sender, "room_id": room,
        "event_id": format!("$mem{}", h.next()), "content": {"membership": membership},
    })
}

fn texts(h: &Harness, room: &str) -> Vec<String> {
    h.ghost_messages(room, BOB_GHOST).iter().map(|e| e.content["body"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_owner_who_left_is_invited_back_by_the_next_sms() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.matrix.join(ALICE, &room).await.unwrap();
    h.matrix.leave(ALICE, &room, None).await.unwrap();
    assert!(h.transact(&[membership(&h, &room, ALICE, ALICE, "leave")]));
    h.settle().await;
    assert!(h.bridge.store.portal_by_room(&room).unwrap().unwrap().owner_left);

    h.inbound(BOB, "are you there?", None);
    h.settle().await;
    assert!(h.matrix.invited(&room).contains(ALICE), "invited again");
    assert_eq!(texts(&h, &room), ["are you there?"]);
    assert!(!h.bridge.store.portal_by_room(&room).unwrap().unwrap().owner_left);
    // Back in: no more invites needed.
    h.matrix.join(ALICE, &room).await.unwrap();
    assert!(h.transact(&[membership(&h, &room, ALICE, ALICE, "join")]));
    h.inbound(BOB, "good", None);
    h.settle().await;
    assert_eq!(texts(&h, &room), ["are you there?", "good"]);
}

#[tokio::test]
async fn a_room_that_cannot_be_used_any_more_is_replaced_by_a_new_portal() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    // The owner kicked the bot and the ghost, then left: nobody can invite her back there.
    h.matrix.leave(BOT, &room, None).await.unwrap();
    h.matrix.leave(BOB_GHOST, &room, None).await.unwrap();
    assert!(h.transact(&[membership(&h, &room, ALICE, ALICE, "leave")]));
    h.settle().await;

    h.inbound(BOB, "hello again", None);
    h.settle().await;
    let new_room = h.portal_room("15551234567");
    assert_ne!(new_room, room, "a new portal room is recorded");
    assert!(h.matrix.invited(&new_room).contains(ALICE));
    assert_eq!(texts(&h, &new_room), ["hello again"]);
    assert!(texts(&h, &room).is_empty());
    // Replies from the new room go out as before.
    h.matrix.join(ALICE, &new_room).await.unwrap();
    h.say_text(ALICE, &new_room, "hi Bob").await;
    assert_eq!(h.backend.sent().last().unwrap().text, "hi Bob");
}

#[tokio::test]
async fn delete_removes_a_chat_and_the_next_sms_makes_a_new_room() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.matrix.join(ALICE, &room).await.unwrap();
    h.say_text(ALICE, &room, "!sms delete").await;
    assert!(!h.matrix.members(&room).contains(BOB_GHOST), "the ghost left");
    assert!(!h.matrix.members(&room).contains(BOT), "the bot left");
    assert!(h.bridge.store.portal_by_room(&room).unwrap().is_none(), "the mapping is gone");
    assert!(h.backend.sent().is_empty(), "the command was not sent as SMS");

    h.inbound(BOB, "new start", None);
    h.settle().await;
    let new_room = h.portal_room("15551234567");
    assert_ne!(new_room, room);
    assert_eq!(texts(&h, &new_room), ["new start"]);
}

#[tokio::test]
async fn only_the_owner_deletes_a_chat() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.say_text(CAROL, &room, "!sms delete").await;
    assert!(h.bridge.store.portal_by_room(&room).unwrap().is_some());
    assert!(h.notices(&room).pop().unwrap().contains("Only the owner"));
}

#[tokio::test]
async fn a_redacted_message_that_has_not_left_is_cancelled() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::Transient]);
    let waiting = h.say_text(ALICE, &room, "oops, wrong chat").await;
    assert_eq!(h.job(&waiting).state, OutState::Queued);
    let redaction = json!({
        "type": "m.room.redaction", "sender": ALICE, "room_id": room, "event_id": format!("$r{}", h.next()),
        "content": {"redacts": waiting},
    });
    assert!(h.transact(&[redaction]));
    h.settle().await;
    h.make_due();
    h.settle().await;
    assert!(h.backend.sent().is_empty(), "never sent");
    assert_eq!(h.job(&waiting).state, OutState::Failed);
    let last = h.statuses(&waiting).pop().unwrap();
    assert_eq!((last["status"].as_str(), last["message"].as_str()), (Some("FAIL_PERMANENT"), Some("cancelled")));

    // One that left already cannot be unsent: the user is told.
    let sent = h.say_text(ALICE, &room, "too late").await;
    let redaction = json!({
        "type": "m.room.redaction", "sender": ALICE, "room_id": room, "event_id": format!("$r{}", h.next()),
        "redacts": sent, "content": {},
    });
    assert!(h.transact(&[redaction]));
    h.settle().await;
    assert_eq!(h.backend.sent().len(), 1);
    assert!(h.notices(&room).pop().unwrap().contains("cannot be unsent"));
}

#[tokio::test]
async fn two_of_our_numbers_on_one_link_are_two_conversations() {
    const OTHER_NUMBER: &str = "+15550002222";
    let h = Harness::new().await;
    h.inbound(BOB, "to the main number", None);
    h.backend
        .inject(ReceivedSms {
            from: BOB.into(),
            to: "15550002222".into(),
            text: "to the second".into(),
            timestamp_ms: None,
        })
        .unwrap();
    // Our own number written without `+` is still our own number.
    h.backend
        .inject(ReceivedSms {
            from: BOB.into(),
            to: "15550001111".into(),
            text: "main again".into(),
            timestamp_ms: None,
        })
        .unwrap();
    h.settle().await;
    let main = h.portal_room("15551234567");
    let second = h.bridge.store.portal_by_pair(OTHER_NUMBER, "15551234567").unwrap().unwrap().room_id.unwrap();
    assert_ne!(main, second);
    assert_eq!(texts(&h, &main), ["to the main number", "main again"]);
    assert_eq!(texts(&h, &second), ["to the second"]);

    // A reply leaves from the number the conversation uses.
    h.matrix.join(ALICE, &second).await.unwrap();
    h.say_text(ALICE, &second, "from the second").await;
    h.matrix.join(ALICE, &main).await.unwrap();
    h.say_text(ALICE, &main, "from the main").await;
    let sent: Vec<(String, String)> = h.backend.sent().into_iter().map(|s| (s.from, s.text)).collect();
    assert_eq!(
        sent,
        [
            (OTHER_NUMBER.to_string(), "from the second".to_string()),
            (OUR_NUMBER.to_string(), "from the main".to_string())
        ]
    );
}

/// Two links, the alphabetically later one first.
const TWO_LINKS: &str = r#"  - id: zulu
    type: test
    number: "+15550003333"
  - id: test1
    type: test
    number: "+15550001111"
"#;

#[tokio::test]
async fn start_without_via_uses_the_first_link_in_the_config() {
    let h = Harness::new_with(config_with_links(TWO_LINKS)).await;
    h.say_text(ALICE, &h.mgmt, &format!("start {BOB}")).await;
    let portal = h.bridge.store.portal_by_pair("+15550003333", "15551234567").unwrap();
    assert_eq!(portal.map(|p| p.backend_id).as_deref(), Some("zulu"), "not the alphabetically first (test1)");
    assert!(h.bridge.store.portal_by_pair(OUR_NUMBER, "15551234567").unwrap().is_none());
}

#[tokio::test]
async fn deleting_a_chat_cancels_what_it_still_had_to_send() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::Transient]);
    let waiting = h.say_text(ALICE, &room, "never mind").await;
    assert_eq!(h.job(&waiting).state, OutState::Queued);
    h.say_text(ALICE, &room, "!sms delete").await;
    h.make_due();
    h.settle().await;
    assert!(h.backend.sent().is_empty(), "nothing of the deleted chat left");
    assert_eq!(h.job(&waiting).state, OutState::Failed);
}
