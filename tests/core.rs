//! The bridge core without a homeserver: `MemoryMatrix` and `TestBackend` in process,
//! and the workers driven step by step (no `Bridge::start`, whose loops would make the
//! order of things depend on timing).

mod common;

use common::core::*;
use serde_json::json;
use sms_bridge::backend::test::Fault;
use sms_bridge::backend::{DeliveryReport, DeliveryStatus, EventSink};
use sms_bridge::matrix::{MatrixApi, RoomSpec};
use sms_bridge::store::{OutState, Queue};
use tokio::sync::mpsc;

#[tokio::test]
async fn start_command_creates_one_portal() {
    let h = Harness::new().await;
    h.say_text(ALICE, &h.mgmt, "start +1 555 123 4567").await;

    let rooms: Vec<_> = h.matrix.rooms().into_iter().filter(|(id, _)| *id != h.mgmt).collect();
    assert_eq!(rooms.len(), 1, "exactly one portal room: {rooms:?}");
    let (room, spec) = &rooms[0];
    assert_eq!(h.portal_room("15551234567"), *room);
    assert_eq!(spec.creator, BOT);
    assert_eq!(spec.alias_localpart.as_deref(), Some("sms_15550001111_15551234567"));
    assert_eq!(spec.name.as_deref(), Some(BOB_DISPLAY));
    assert!(spec.is_direct);
    assert_eq!(spec.invite, vec![BOB_GHOST.to_string(), ALICE.to_string()]);
    let state_types: Vec<&str> = spec.initial_state.iter().map(|s| s.event_type.as_str()).collect();
    assert_eq!(state_types, ["m.bridge", "uk.half-shot.bridge"]);
    for s in &spec.initial_state {
        assert_eq!(s.state_key, "sms-bridge://sms/15550001111/15551234567");
        assert_eq!(s.content["bridgebot"], BOT);
        assert_eq!(s.content["channel"]["id"], "15551234567");
    }
    // Room version 12: the creator's power is implicit and may not be listed.
    let users = spec.power_levels.as_ref().unwrap()["users"].as_object().unwrap();
    assert!(!users.contains_key(BOT), "{users:?}");
    assert_eq!(users.get(BOB_GHOST), Some(&json!(100)));

    assert!(h.matrix.members(room).contains(BOB_GHOST), "the ghost joined");
    assert!(h.matrix.invited(room).contains(ALICE), "Alice is invited");
    assert!(h.matrix.is_registered(BOB_GHOST));
    assert_eq!(h.matrix.displayname(BOB_GHOST).as_deref(), Some(BOB_DISPLAY));
    assert_eq!(h.matrix.account_data(BOB_GHOST, "m.direct"), Some(json!({ ALICE: [room] })));

    let replies = h.notices(&h.mgmt);
    assert_eq!(replies.len(), 2, "welcome and one reply: {replies:?}");
    assert!(replies[1].contains(room.as_str()), "{}", replies[1]);
    assert!(replies[1].starts_with("Chat with +1 555-123-4567 via +1 555-000-1111 (test1)"), "{}", replies[1]);

    // The same number typed nationally (default_region US) is the same portal.
    h.say_text(ALICE, &h.mgmt, "start (555) 123-4567").await;
    assert_eq!(h.matrix.rooms().len(), 2, "no second portal room");
    let replies = h.notices(&h.mgmt);
    assert_eq!(replies.len(), 3);
    assert!(replies[2].contains(room.as_str()), "{}", replies[2]);
}

#[tokio::test]
async fn portal_message_is_sent_as_sms_with_statuses() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.say_text(ALICE, &room, "Hello Bob").await;

    let job = h.job(&ev);
    assert_eq!(h.backend.sent(), vec![sms(&job, "Hello Bob")]);
    assert_eq!(job.state, OutState::Sent);
    assert_eq!(h.status_names(&ev), ["PENDING", "SUCCESS"]);
    assert!(h.statuses(&ev).iter().all(|s| s.get("reason").is_none()));
    assert!(h.notices(&room).is_empty());
}

#[tokio::test]
async fn formatted_messages_and_replies_become_plain_text() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let html = h
        .say(
            ALICE,
            &room,
            json!({"msgtype": "m.text", "body": "**Hello** _there_", "format": "org.matrix.custom.html",
                   "formatted_body": "<strong>Hello</strong> <em>there</em> &amp; <a href=\"https://x.org\">link</a>"}),
        )
        .await;
    let reply = h
        .say(
            ALICE,
            &room,
            json!({"msgtype": "m.text", "body": "> <@sms_15551234567:example.org> Hi\n\nSure, see you",
                   "format": "org.matrix.custom.html",
                   "formatted_body": "<mx-reply><blockquote>Hi</blockquote></mx-reply>Sure, <b>see</b> you",
                   "m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}}}),
        )
        .await;
    let plain_reply = h
        .say(
            ALICE,
            &room,
            json!({"msgtype": "m.text", "body": "> <@sms_15551234567:example.org> Hi\n> there\n\nOK",
                   "m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}}}),
        )
        .await;
    assert_eq!(
        h.backend.sent(),
        vec![
            sms(&h.job(&html), "Hello there & link (https://x.org)"),
            sms(&h.job(&reply), "Sure, see you"),
            sms(&h.job(&plain_reply), "OK"),
        ]
    );
}

#[tokio::test]
async fn a_status_overtaken_before_it_went_out_is_skipped() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "busy"}));
    let id = ev["event_id"].as_str().unwrap().to_string();
    assert!(h.transact(&[ev]));
    // PENDING is queued, then the link accepts the message before the statuses go out.
    h.bridge.handle_pending_events().await.unwrap();
    h.bridge.send_due(&h.backend_dyn).await.unwrap();
    h.bridge.send_matrix_jobs().await.unwrap();
    assert_eq!(h.status_names(&id), ["SUCCESS"], "only the latest status is sent");
    assert_eq!(h.bridge.queue_counts().unwrap()[2], (0, 0), "the skipped one is done, not left queued");
}

#[tokio::test]
async fn replayed_transactions_and_events_send_once() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "once"}));
    let id = ev["event_id"].as_str().unwrap().to_string();
    let events = [ev];

    assert!(h.bridge.accept_transaction("replay-1", &events).unwrap());
    assert!(!h.bridge.accept_transaction("replay-1", &events).unwrap(), "a retried transaction is recognised");
    assert!(h.bridge.accept_transaction("replay-2", &events).unwrap());
    assert_eq!(h.bridge.store.pending_events(10).unwrap().len(), 1, "the event is stored once");
    h.settle().await;
    assert_eq!(h.backend.sent().len(), 1);

    // The homeserver sends it again after it was handled (and removed from the queue).
    assert!(h.bridge.accept_transaction("replay-3", &events).unwrap());
    h.settle().await;
    assert_eq!(h.backend.sent(), vec![sms(&h.job(&id), "once")]);
    assert_eq!(h.status_names(&id), ["PENDING", "SUCCESS"]);

    // A homeserver that numbers its transactions from 1 again (Synapse on SQLite after a
    // restart) reuses an id with new events: they must not be dropped.
    let fresh = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "after a homeserver restart"}));
    let fresh_id = fresh["event_id"].as_str().unwrap().to_string();
    assert!(h.bridge.accept_transaction("replay-1", &[fresh]).unwrap());
    h.settle().await;
    assert_eq!(h.backend.sent().last(), Some(&sms(&h.job(&fresh_id), "after a homeserver restart")));
    assert_eq!(h.backend.sent().len(), 2);
}

#[tokio::test]
async fn echoes_of_our_own_users_are_ignored() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let events_before = h.matrix.events().len();
    let echoes = [
        h.message(BOB_GHOST, &room, json!({"msgtype": "m.text", "body": "ghost echo"})),
        h.message(BOT, &room, json!({"msgtype": "m.notice", "body": "bot echo"})),
        // Any user in the ghost namespace, even one without a portal.
        h.message("@sms_15559999999:example.org", &room, json!({"msgtype": "m.text", "body": "other ghost"})),
        h.message(BOT, &h.mgmt, json!({"msgtype": "m.text", "body": "start +1 555 777 8888"})),
    ];
    assert!(h.transact(&echoes));
    assert!(h.bridge.store.pending_events(10).unwrap().is_empty(), "echoes are not even stored");
    h.settle().await;
    assert!(h.backend.sent().is_empty());
    assert_eq!(h.matrix.events().len(), events_before, "no statuses or notices about echoes");
    assert_eq!(h.matrix.rooms().len(), 2);

    // The portal itself works: Alice's message in the same room goes out.
    h.say_text(ALICE, &room, "real").await;
    assert_eq!(h.backend.sent().len(), 1);
}

#[tokio::test]
async fn users_without_permission_are_refused() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;

    let ev = h.say_text(EVE, &room, "let me in").await;
    assert!(h.backend.sent().is_empty());
    assert!(h.bridge.store.out_job_by_event(&ev).unwrap().is_none(), "no outbox job");
    let statuses = h.statuses(&ev);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0]["status"], "FAIL_PERMANENT");
    assert_eq!(statuses[0]["reason"], "m_no_permission");
    assert_eq!(h.notices(&room), ["You are not allowed to send SMS through this bridge."]);

    // Eve invites the bot to a DM: it leaves instead of making it a management room.
    let spec = RoomSpec { creator: EVE.into(), invite: vec![BOT.into()], is_direct: true, ..Default::default() };
    let eve_room = h.matrix.create_room(&spec).await.unwrap();
    let invite = json!({
        "type": "m.room.member", "state_key": BOT, "sender": EVE,
        "content": {"membership": "invite", "is_direct": true}, "room_id": eve_room, "event_id": "$eve-invite",
    });
    assert!(h.transact(&[invite]));
    h.settle().await;
    assert!(!h.matrix.invited(&eve_room).contains(BOT), "the invite was rejected");
    assert!(!h.matrix.members(&eve_room).contains(BOT));
    assert_eq!(h.bridge.store.management_room(EVE).unwrap(), None);
    assert_eq!(h.bridge.store.management_room_owner(&eve_room).unwrap(), None);
    assert!(h.bridge.store.pending_events(10).unwrap().is_empty());
}

#[tokio::test]
async fn inbound_sms_opens_a_portal_for_the_owner() {
    let h = Harness::new().await;
    let ghost = "@sms_15559876543:example.org";
    h.inbound("+15559876543", "Hi", Some(1_700_000_000_000));
    h.settle().await;

    let room = h.portal_room("15559876543");
    let spec = h.matrix.rooms().into_iter().find(|(id, _)| *id == room).unwrap().1;
    assert_eq!(spec.creator, BOT);
    assert_eq!(spec.invite, vec![ghost.to_string(), ALICE.to_string()], "the single admin is the owner");
    assert!(h.matrix.invited(&room).contains(ALICE));
    assert_eq!(h.matrix.displayname(ghost).as_deref(), Some("+1 555-987-6543"));
    let msgs = h.ghost_messages(&room, ghost);
    assert_eq!(msgs.len(), 1);
    // The transaction id rides along, so a retry can find the message in the room.
    assert_eq!(msgs[0].content, json!({"msgtype": "m.text", "body": "Hi", "com.github.sms_bridge.txn_id": "sms-in-1"}));
    assert_eq!(msgs[0].ts, Some(1_700_000_000_000));

    // The same sender again, written nationally this time: same room.
    h.inbound("(555) 987-6543", "Again", None);
    h.settle().await;
    assert_eq!(h.matrix.rooms().len(), 2, "management room and one portal");
    let bodies: Vec<_> = h.ghost_messages(&room, ghost).iter().map(|e| e.content["body"].clone()).collect();
    assert_eq!(bodies, ["Hi", "Again"]);
    assert_eq!(h.ghost_messages(&room, ghost)[1].ts, None);
    assert_eq!(h.bridge.queue_counts().unwrap()[1], (0, 0), "inbox drained, nothing dead");
}

#[tokio::test]
async fn inbound_sms_reuses_a_portal_started_by_command() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.inbound(BOB, "reply", None);
    h.settle().await;
    assert_eq!(h.matrix.rooms().len(), 2);
    assert_eq!(h.ghost_messages(&room, BOB_GHOST).len(), 1);
}

#[tokio::test]
async fn delivery_reports_become_statuses_and_receipts() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.say_text(ALICE, &room, "delivered?").await;
    let job = h.job(&ev);

    h.backend
        .report(DeliveryReport {
            message_id: format!("test-{}", job.id),
            status: DeliveryStatus::Delivered,
            detail: None,
            alt_ids: vec![],
        })
        .unwrap();
    h.settle().await;
    let statuses = h.statuses(&ev);
    assert_eq!(h.status_names(&ev), ["PENDING", "SUCCESS", "SUCCESS"]);
    assert!(statuses[1].get("delivered_to_users").is_none(), "accepted by the link is not delivered yet");
    assert_eq!(statuses[2]["delivered_to_users"], json!([BOB_GHOST]));
    assert_eq!(h.matrix.receipts(), vec![(BOB_GHOST.to_string(), room.clone(), ev.clone())]);
    assert_eq!(h.job(&ev).state, OutState::Delivered);

    // A repeated report changes nothing; one for a message we do not know (yet) is
    // retried for a while, in case the record of its send is late, then dropped.
    h.backend
        .report(DeliveryReport {
            message_id: format!("test-{}", job.id),
            status: DeliveryStatus::Delivered,
            detail: None,
            alt_ids: vec![],
        })
        .unwrap();
    h.backend
        .report(DeliveryReport {
            message_id: "test-999".into(),
            status: DeliveryStatus::Delivered,
            detail: None,
            alt_ids: vec![],
        })
        .unwrap();
    h.settle().await;
    assert_eq!(h.statuses(&ev).len(), 3);
    assert_eq!(h.matrix.receipts().len(), 1);
    assert_eq!(h.bridge.queue_counts().unwrap()[1], (1, 0), "the unknown report waits");
    for _ in 0..8 {
        h.make_due();
        h.settle().await;
    }
    // Then dropped: a report no message ever matched is nothing to show or retry.
    assert_eq!(h.bridge.queue_counts().unwrap()[1], (0, 0), "and is dropped after max_attempts");
    assert_eq!(h.statuses(&ev).len(), 3);

    let failed = h.say_text(ALICE, &room, "not delivered").await;
    let report = DeliveryReport {
        message_id: format!("test-{}", h.job(&failed).id),
        status: DeliveryStatus::Failed,
        detail: Some("UNDELIV err:001".into()),
        alt_ids: vec![],
    };
    h.backend.report(report).unwrap();
    h.settle().await;
    let statuses = h.statuses(&failed);
    assert_eq!(h.status_names(&failed), ["PENDING", "SUCCESS", "FAIL_PERMANENT"]);
    assert_eq!(statuses[2]["reason"], "m_foreign_network_error");
    assert!(statuses[2]["message"].as_str().unwrap().contains("UNDELIV err:001"));
    assert_eq!(
        h.notices(&room),
        ["⚠ Your message was not delivered. Not delivered to +1 555-123-4567: UNDELIV err:001"]
    );
    assert_eq!(h.job(&failed).state, OutState::Failed);
    assert_eq!(h.matrix.receipts().len(), 1, "no receipt for a failed message");
}

#[tokio::test]
async fn transient_send_failure_is_retried() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::Transient]);
    let ev = h.say_text(ALICE, &room, "try again").await;

    assert!(h.backend.sent().is_empty());
    assert_eq!(h.status_names(&ev), ["PENDING", "FAIL_RETRIABLE"]);
    assert_eq!(h.statuses(&ev)[1]["reason"], "m_foreign_network_error");
    let job = h.job(&ev);
    assert_eq!((job.state, job.attempts), (OutState::Queued, 1));
    // Backing off: not retried at once.
    h.settle().await;
    assert!(h.backend.sent().is_empty());

    h.make_due();
    h.settle().await;
    assert_eq!(h.backend.sent(), vec![sms(&job, "try again")]);
    assert_eq!(h.status_names(&ev), ["PENDING", "FAIL_RETRIABLE", "SUCCESS"]);
    assert_eq!(h.job(&ev).state, OutState::Sent);
    assert!(h.notices(&room).is_empty(), "a retried message needs no notice");
}

#[tokio::test]
async fn permanent_send_failure_is_reported() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::Permanent]);
    let ev = h.say_text(ALICE, &room, "refused").await;

    assert!(h.backend.sent().is_empty());
    assert_eq!(h.status_names(&ev), ["PENDING", "FAIL_PERMANENT"]);
    assert_eq!(h.statuses(&ev)[1]["reason"], "m_foreign_network_error");
    assert_eq!(
        h.notices(&room),
        ["⚠ Your message was not delivered. The SMS link refused the message: test link: simulated rejection"]
    );
    assert_eq!(h.job(&ev).state, OutState::Failed);
    h.make_due();
    h.settle().await;
    assert!(h.backend.sent().is_empty(), "a refused message is not retried");
}

#[tokio::test]
async fn inbound_sms_waits_while_the_homeserver_is_down() {
    let h = Harness::new().await;
    let ghost = "@sms_15559876543:example.org";
    h.matrix.set_down(true);
    let id = h.inbound("+15559876543", "are you there?", None);
    h.settle().await;
    h.bridge.drain_inbox().await.unwrap();

    let (state, attempts): (String, u32) = h
        .sql()
        .query_row("SELECT state, attempts FROM inbox WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((state.as_str(), attempts), ("new", 1), "kept for a retry");
    assert_eq!(h.matrix.rooms().len(), 1, "nothing created while down");

    h.matrix.set_down(false);
    h.make_due();
    h.settle().await;
    let room = h.portal_room("15559876543");
    let msgs = h.ghost_messages(&room, ghost);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].content["body"], "are you there?");
    assert_eq!(h.matrix.rooms().len(), 2);
    assert_eq!(h.bridge.queue_counts().unwrap()[1], (0, 0));

    // Down again with the portal in place: the message still arrives once, in order.
    h.matrix.set_down(true);
    h.inbound("+15559876543", "second", None);
    h.inbound("+15559876543", "third", None);
    h.settle().await;
    h.matrix.set_down(false);
    h.make_due();
    h.settle().await;
    let bodies: Vec<_> = h.ghost_messages(&room, ghost).iter().map(|e| e.content["body"].clone()).collect();
    assert_eq!(bodies, ["are you there?", "second", "third"]);
}

#[tokio::test]
async fn queued_message_is_sent_once_after_a_restart() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "survive"}));
    let id = ev["event_id"].as_str().unwrap().to_string();
    assert!(h.transact(&[ev]));
    // Accepted and queued, but the process stops before the outbox worker runs.
    h.bridge.handle_pending_events().await.unwrap();
    assert_eq!(h.job(&id).state, OutState::Queued);
    assert!(h.backend.sent().is_empty());

    let h = h.restart().await;
    assert_eq!(h.bridge.store.recover().unwrap(), 0, "nothing was being sent");
    h.settle().await;
    assert_eq!(h.backend.sent(), vec![sms(&h.job(&id), "survive")]);
    assert_eq!(h.status_names(&id), ["PENDING", "SUCCESS"]);
    h.settle().await;
    assert_eq!(h.backend.sent().len(), 1);
}

#[tokio::test]
async fn job_left_sending_by_a_crash_is_recovered() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "in flight"}));
    let id = ev["event_id"].as_str().unwrap().to_string();
    assert!(h.transact(&[ev]));
    h.bridge.handle_pending_events().await.unwrap();
    // What `send_due` does just before handing the job to the link; then the crash.
    h.bridge.store.set_out_state(h.job(&id).id, OutState::Sending, None).unwrap();

    let h = h.restart().await;
    h.settle().await;
    assert!(h.backend.sent().is_empty(), "a 'sending' job is not picked up without recovery");
    assert_eq!(h.bridge.store.recover().unwrap(), 1);
    assert_eq!(h.job(&id).state, OutState::Queued);
    assert_eq!(h.bridge.store.resends().unwrap(), 1);
    h.settle().await;
    assert_eq!(h.backend.sent(), vec![sms(&h.job(&id), "in flight")]);
    assert_eq!(h.status_names(&id), ["PENDING", "SUCCESS"]);
    assert_eq!(h.bridge.store.recover().unwrap(), 0);
}

#[tokio::test]
async fn messages_to_one_portal_keep_their_order_across_a_retry() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let other = h.start_chat("+1 555 222 3333", "15552223333").await;
    h.backend.push_faults(&[Fault::Transient]);
    let first = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "first"}));
    let second = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "second"}));
    let (first_id, second_id) = (first["event_id"].as_str().unwrap(), second["event_id"].as_str().unwrap());
    assert!(h.transact(&[first.clone(), second.clone()]));
    h.settle().await;

    // "first" failed and backs off; "second" must wait behind it.
    let texts = |h: &Harness| h.backend.sent().into_iter().map(|s| s.text).collect::<Vec<_>>();
    assert!(texts(&h).is_empty());
    assert_eq!(h.status_names(first_id), ["PENDING", "FAIL_RETRIABLE"]);
    assert_eq!(h.status_names(second_id), ["PENDING"]);
    assert_eq!(h.job(second_id).state, OutState::Queued);

    // Another portal is not held up meanwhile, and the link taking it shows it is back:
    // the waiting messages go at once, in order, without sleeping out their backoff.
    h.say_text(ALICE, &other, "elsewhere").await;
    h.settle().await;
    assert_eq!(texts(&h), ["elsewhere", "first", "second"]);
    assert_eq!(h.status_names(first_id), ["PENDING", "FAIL_RETRIABLE", "SUCCESS"]);
    assert_eq!(h.status_names(second_id), ["PENDING", "SUCCESS"]);
    assert_eq!(h.backend.sent()[2].to, BOB);
}

#[tokio::test]
async fn inbound_sms_keep_their_order_when_the_homeserver_returns_early() {
    let h = Harness::new().await;
    h.inbound(BOB, "one", None);
    h.settle().await;
    let room = h.portal_room("15551234567");

    h.matrix.set_down(true);
    h.inbound(BOB, "two", None);
    h.inbound(BOB, "three", None);
    h.bridge.drain_inbox().await.unwrap(); // "two" fails and backs off
    h.matrix.set_down(false);
    // The homeserver is back before "two" is due again: "three" must not overtake it.
    h.settle().await;
    h.make_due();
    h.settle().await;
    let bodies: Vec<_> = h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].clone()).collect();
    assert_eq!(bodies, ["one", "two", "three"]);
}

#[tokio::test]
async fn statuses_keep_their_order_when_the_homeserver_returns_early() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "hi"}));
    let id = ev["event_id"].as_str().unwrap().to_string();
    assert!(h.transact(&[ev]));
    h.bridge.handle_pending_events().await.unwrap();
    h.matrix.set_down(true);
    h.bridge.send_matrix_jobs().await.unwrap(); // PENDING fails and backs off
    h.matrix.set_down(false);
    // SUCCESS is queued and the homeserver is back before PENDING is due again.
    h.settle().await;
    h.make_due();
    h.settle().await;
    // PENDING never went out and SUCCESS overtook it: only SUCCESS, never PENDING after it.
    assert_eq!(h.status_names(&id), ["SUCCESS"], "a client shows the last status it sees");
}

// Homeserver failures in the windows between calls.
#[tokio::test]
async fn interrupted_portal_creation_is_adopted() {
    let h = Harness::new().await;
    // The room is created, then the ghost's join fails: the next attempt meets the alias.
    h.flaky.fail_next("join", Lose::Request);
    h.inbound(BOB, "hello", None);
    h.settle().await;
    assert_eq!(h.bridge.queue_counts().unwrap()[1], (1, 0), "the SMS waits in the inbox");
    h.make_due();
    h.settle().await;

    assert_eq!(h.matrix.rooms().len(), 2, "one portal room, adopted rather than duplicated");
    let room = h.portal_room("15551234567");
    assert!(h.matrix.members(&room).contains(BOB_GHOST));
    assert!(h.matrix.invited(&room).contains(ALICE));
    let bodies: Vec<_> = h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].clone()).collect();
    assert_eq!(bodies, ["hello"]);
}

#[tokio::test]
async fn lost_send_responses_do_not_duplicate() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    // An inbound SMS reaches the room but the answer is lost: the retry reuses its txn id.
    h.flaky.fail_next("send", Lose::Response);
    h.inbound(BOB, "once", None);
    h.settle().await;
    h.make_due();
    h.settle().await;
    assert_eq!(h.ghost_messages(&room, BOB_GHOST).len(), 1);
    assert_eq!(h.bridge.queue_counts().unwrap()[1], (0, 0));

    // Same for a status event.
    let ev = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "x"}));
    let id = ev["event_id"].as_str().unwrap().to_string();
    assert!(h.transact(&[ev]));
    h.bridge.handle_pending_events().await.unwrap();
    h.flaky.fail_next("send", Lose::Response);
    h.settle().await;
    h.make_due();
    h.settle().await;
    assert_eq!(h.status_names(&id), ["PENDING", "SUCCESS"]);
}

#[tokio::test]
async fn start_command_is_retried_when_the_homeserver_fails() {
    let h = Harness::new().await;
    h.flaky.fail_next("create_room", Lose::Request);
    // The event stays queued with a backoff; a later pass handles it.
    h.say_text(ALICE, &h.mgmt, "start +1 555 123 4567").await;
    assert_eq!(h.bridge.store.waiting(Queue::MatrixIn).unwrap(), 1, "kept for a retry");
    h.make_due();
    h.settle().await;
    let room = h.portal_room("15551234567");
    assert_eq!(h.matrix.rooms().len(), 2);
    let replies = h.notices(&h.mgmt);
    assert_eq!(replies.len(), 2, "welcome and exactly one reply: {replies:?}");
    assert!(replies[1].contains(&room));
}

#[tokio::test]
async fn group_and_ghost_invites_are_declined() {
    let h = Harness::new().await;
    let spec = RoomSpec { creator: ALICE.into(), invite: vec![BOT.into(), BOB_GHOST.into()], ..Default::default() };
    let group = h.matrix.create_room(&spec).await.unwrap();
    let invite = |who: &str, id: &str| {
        json!({
            "type": "m.room.member", "state_key": who, "sender": ALICE,
            "content": {"membership": "invite"}, "room_id": group, "event_id": id,
        })
    };
    assert!(h.transact(&[invite(BOT, "$inv-bot"), invite(BOB_GHOST, "$inv-ghost")]));
    h.settle().await;
    for user in [BOT, BOB_GHOST] {
        assert!(!h.matrix.invited(&group).contains(user), "{user} declined");
        assert!(!h.matrix.members(&group).contains(user), "{user} did not join");
    }
    assert_eq!(
        h.bridge.store.management_room(ALICE).unwrap().as_deref(),
        Some(h.mgmt.as_str()),
        "the management room is unchanged"
    );
}

#[tokio::test]
async fn a_kicked_ghost_is_brought_back_by_the_next_sms() {
    let h = Harness::new().await;
    let ghost = "@sms_15559876543:example.org";
    h.inbound("+15559876543", "first", None);
    h.settle().await;
    let room = h.portal_room("15559876543");
    // Someone kicked the ghost: sending as it is refused (403) until it is back.
    h.matrix.leave(ghost, &room, None).await.unwrap();
    h.inbound("+15559876543", "still here", None);
    h.settle().await;
    assert!(h.matrix.members(&room).contains(ghost), "the bot invited the ghost back and it joined");
    let bodies: Vec<String> =
        h.ghost_messages(&room, ghost).iter().map(|e| e.content["body"].as_str().unwrap().to_string()).collect();
    assert_eq!(bodies, ["first", "still here"]);
    assert_eq!(h.bridge.store.dead(Queue::Inbox).unwrap(), 0);
}

#[tokio::test]
async fn a_user_cannot_start_their_way_into_someone_elses_chat() {
    let h = Harness::new().await;
    let alices = h.start_chat("+1 555 123 4567", "15551234567").await;
    let carol_room = carol_management_room(&h).await;
    h.say_text("@carol:example.org", &carol_room, "start +1 555 123 4567").await;
    h.settle().await;
    assert!(!h.matrix.invited(&alices).contains("@carol:example.org"));
    assert!(!h.matrix.members(&alices).contains("@carol:example.org"));
    let reply = h.notices(&carol_room).pop().unwrap();
    assert!(reply.contains("already has a chat on this link, owned by @alice:example.org"), "{reply}");
    // Carol can still start her own chats.
    h.say_text("@carol:example.org", &carol_room, "start +1 555 999 0000").await;
    h.settle().await;
    assert!(h.notices(&carol_room).pop().unwrap().contains("matrix.to"));
}

#[tokio::test]
async fn a_failing_event_in_one_room_does_not_hold_up_other_rooms() {
    let h = Harness::new().await;
    let room = h.start_chat("+1 555 123 4567", "15551234567").await;
    // Alice's next command fails at the homeserver (createRoom) and backs off...
    h.flaky.fail_next("create_room", Lose::Request);
    h.say_text(ALICE, &h.mgmt, "start +1 555 999 0000").await;
    // ... while her message in an existing chat still goes out.
    h.say_text(ALICE, &room, "not held up").await;
    h.settle().await;
    assert_eq!(h.backend.sent().iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["not held up"]);
    // The homeserver answering the status updates shows it is back: the command is
    // retried at once, not after its backoff.
    assert_eq!(h.bridge.store.waiting(Queue::MatrixIn).unwrap(), 0);
    assert!(h.notices(&h.mgmt).pop().unwrap().contains("+1 555-999-0000"));
}

#[tokio::test]
async fn a_long_sms_arriving_in_parts_reaches_matrix_once_and_whole() {
    use sms_bridge::sms::gsm7::{self, Tables};
    use sms_bridge::sms::reassembly::{Part, PartEncoding};
    use sms_bridge::store::IncomingPart;
    let h = Harness::new().await;
    let (tx, _rx) = mpsc::unbounded_channel();
    let sink = EventSink::new("test1", h.bridge.store.clone(), h.bridge.wake.inbox.clone(), tx);
    let part = |seq: u8, text: &str| IncomingPart {
        from: BOB.into(),
        to: OUR_NUMBER.into(),
        reference: 9,
        total: 2,
        timestamp_ms: Some(1_700_000_000_000),
        part: Part {
            seq,
            encoding: PartEncoding::gsm7(Tables::DEFAULT),
            payload: gsm7::encode(text, &Tables::DEFAULT).unwrap(),
        },
    };
    // Out of order, with a repeat: committed before the link would acknowledge each.
    assert_eq!(sink.sms_part(part(2, "world")).unwrap(), None);
    assert_eq!(sink.sms_part(part(2, "world")).unwrap(), None);
    assert!(sink.sms_part(part(1, "hello ")).unwrap().is_some());
    h.settle().await;
    let room = h.portal_room("15551234567");
    let bodies: Vec<_> = h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].clone()).collect();
    assert_eq!(bodies, ["hello world"]);
}
