//! Trustworthy delivery in the core: outages of any length give nothing up, the backlog
//! drains at once when the peer is back, long messages settle on one status, and what is
//! given up can be listed, retried and dropped. `MemoryMatrix` and the test link, driven
//! step by step.

mod common;

use common::core::*;
use sms_bridge::backend::DeliveryStatus;
use sms_bridge::backend::test::Fault;
use sms_bridge::store::{OutState, Queue};

/// Makes only the oldest waiting inbox item due: the probe that finds the homeserver back.
fn make_oldest_inbox_item_due(h: &Harness) {
    h.sql()
        .execute("UPDATE inbox SET next_attempt_at = 0 WHERE id = (SELECT min(id) FROM inbox WHERE state = 'new')", [])
        .unwrap();
}

#[tokio::test]
async fn a_homeserver_outage_longer_than_max_attempts_gives_nothing_up() {
    let h = Harness::new().await;
    h.matrix.set_down(true);
    for i in 0..20 {
        h.inbound(BOB, &format!("sms {i}"), None);
    }
    // Far more attempts than bridge.max_attempts (8): transient failures never count.
    for _ in 0..20 {
        h.make_due();
        h.settle().await;
    }
    for q in Queue::ALL {
        assert_eq!(h.bridge.store.dead(q).unwrap(), 0, "nothing given up in {q:?}");
    }
    let attempts: u32 = h.sql().query_row("SELECT max(attempts) FROM inbox", [], |r| r.get(0)).unwrap();
    assert!(attempts >= 20, "the oldest SMS was tried all along ({attempts})");

    // Back: the first item to come due finds it so, and the backlog follows at once, in
    // order, without each item sleeping out its own backoff.
    h.matrix.set_down(false);
    make_oldest_inbox_item_due(&h);
    h.settle().await;
    let room = h.portal_room("15551234567");
    let texts: Vec<String> =
        h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].as_str().unwrap().to_string()).collect();
    assert_eq!(texts, (0..20).map(|i| format!("sms {i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_dead_sms_with_no_room_anywhere_gets_a_management_room_made_for_it() {
    let h = Harness::new().await;
    h.sql().execute("DELETE FROM management_rooms", []).unwrap();
    // Every room creation is refused (no known kind): the SMS is given up after 8.
    for _ in 0..8 {
        h.flaky.fail_next("create_room", Lose::Refused);
    }
    h.inbound("+15559876543", "nobody home", None);
    h.settle().await;
    for _ in 0..8 {
        h.make_due();
        h.settle().await;
    }
    assert_eq!(h.bridge.store.dead(Queue::Inbox).unwrap(), 1);
    let room = h.bridge.store.management_room(ALICE).unwrap().expect("a management room was made");
    assert_ne!(room, h.mgmt);
    assert!(h.matrix.invited(&room).contains(ALICE) || h.matrix.members(&room).contains(ALICE));
    let notices = h.notices(&room);
    assert!(notices.iter().any(|n| n.contains("+1 555-987-6543") && n.contains("It was:\nnobody home")), "{notices:?}");
}

#[tokio::test]
async fn a_report_racing_its_send_is_applied_once_the_send_is_recorded() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::Transient]);
    let ev = h.say_text(ALICE, &room, "racing").await;
    let job = h.job(&ev);
    // The report arrives before the link's acceptance is recorded: it waits.
    h.report(&format!("test-{}", job.id), DeliveryStatus::Delivered, &[]);
    h.settle().await;
    assert_eq!(h.bridge.store.waiting(Queue::Inbox).unwrap(), 1);
    h.make_due();
    h.settle().await;
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Delivered);
    // Accepted and delivered went out in one batch: only the newer status is sent.
    assert_eq!(h.status_names(&ev), ["PENDING", "FAIL_RETRIABLE", "SUCCESS"]);
    assert_eq!(h.statuses(&ev)[2]["delivered_to_users"], serde_json::json!([BOB_GHOST]));
    assert_eq!(h.matrix.receipts().len(), 1);
}

#[tokio::test]
async fn another_spelling_of_an_id_is_used_only_when_one_waiting_message_matches() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let a = h.job(&h.say_text(ALICE, &room, "a").await);
    let b = h.job(&h.say_text(ALICE, &room, "b").await);
    let (id_a, id_b) = (format!("test-{}", a.id), format!("test-{}", b.id));
    // Two waiting messages match: ambiguous, so it waits rather than guess.
    h.report("nonsense-1", DeliveryStatus::Delivered, &[&id_a, &id_b]);
    h.settle().await;
    h.make_due();
    h.settle().await;
    assert_eq!((h.job(&a.event_id).state, h.job(&b.event_id).state), (OutState::Sent, OutState::Sent));
    // One match: not at once (it may be the report of a newer message whose send is not
    // recorded yet, with a lookalike id), but after it waited a round.
    h.report("nonsense-2", DeliveryStatus::Delivered, &[&id_a]);
    h.settle().await;
    assert_eq!(h.job(&a.event_id).state, OutState::Sent, "not on the first try");
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&a.event_id).state, OutState::Delivered);
    // A spelling that matches only a message already settled is not attached to it.
    h.report("nonsense-3", DeliveryStatus::Failed, &[&id_a]);
    h.settle().await;
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&a.event_id).state, OutState::Delivered);
    assert!(h.notices(&room).is_empty(), "{:?}", h.notices(&room));
    // The exact id always wins.
    h.report(&id_b, DeliveryStatus::Delivered, &[]);
    h.settle().await;
    assert_eq!(h.job(&b.event_id).state, OutState::Delivered);
}

#[tokio::test]
async fn a_long_message_settles_on_one_status_from_all_its_parts() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let long = "x".repeat(400); // three parts on the test link
    let ok = h.say_text(ALICE, &room, &long).await;
    let bad = h.say_text(ALICE, &room, &format!("{long}!")).await;
    let (ok_job, bad_job) = (h.job(&ok).id, h.job(&bad).id);

    // Delivered part by part: SUCCESS with the receipt only after the last.
    for part in 1..=3 {
        assert!(h.matrix.receipts().is_empty(), "no receipt before part {part}");
        h.report(&format!("test-{ok_job}-{part}"), DeliveryStatus::Delivered, &[]);
        h.settle().await;
    }
    assert_eq!(h.status_names(&ok), ["PENDING", "SUCCESS", "SUCCESS"]);
    assert_eq!(h.matrix.receipts().len(), 1);
    assert_eq!(h.job(&ok).state, OutState::Delivered);

    // Mixed: one failed part fails the message, once; later reports change nothing.
    h.report(&format!("test-{bad_job}-1"), DeliveryStatus::Delivered, &[]);
    h.report(&format!("test-{bad_job}-2"), DeliveryStatus::Failed, &[]);
    h.report(&format!("test-{bad_job}-3"), DeliveryStatus::Failed, &[]);
    h.report(&format!("test-{bad_job}-3"), DeliveryStatus::Delivered, &[]);
    h.settle().await;
    assert_eq!(h.status_names(&bad), ["PENDING", "SUCCESS", "FAIL_PERMANENT"]);
    assert_eq!(h.notices(&room).len(), 1, "{:?}", h.notices(&room));
    assert!(h.notices(&room)[0].contains("of its 3 parts failed"));
    assert_eq!(h.job(&bad).state, OutState::Failed);
    assert_eq!(h.matrix.receipts().len(), 1);
}

#[tokio::test]
async fn a_part_failing_midway_is_the_only_one_sent_again() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::TransientAtPart(1)]);
    let ev = h.say_text(ALICE, &room, &"y".repeat(400)).await;
    let job = h.job(&ev).id;
    assert_eq!(h.backend.parts_sent(), [(job, 0)]);
    h.make_due();
    h.settle().await;
    assert_eq!(h.backend.parts_sent(), [(job, 0), (job, 1), (job, 2)], "part 1 went once");
    assert_eq!(h.status_names(&ev), ["PENDING", "FAIL_RETRIABLE", "SUCCESS"]);
    // Every part's report finds the message, the first part's from the first attempt too.
    for part in 1..=3 {
        h.report(&format!("test-{job}-{part}"), DeliveryStatus::Delivered, &[]);
    }
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Delivered);
}

#[tokio::test]
async fn an_outgoing_message_fails_at_its_expiry_and_can_be_retried_or_dropped() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::Transient, Fault::Transient, Fault::Transient]);
    let ev = h.say_text(ALICE, &room, "too late").await;
    // Many transient failures, well past max_attempts' old meaning: still waiting.
    h.backend.push_faults(&[Fault::Transient; 10]);
    for _ in 0..10 {
        h.make_due();
        h.settle().await;
    }
    assert_eq!(h.job(&ev).state, OutState::Queued);
    // Its expiry passes: the next failure gives it up, with a reason and a notice.
    h.sql().execute("UPDATE outbox SET expires_at = 1", []).unwrap();
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Dead);
    assert_eq!(h.status_names(&ev).last().unwrap(), "FAIL_PERMANENT");
    let notice = h.notices(&room).pop().unwrap();
    assert!(notice.contains("Not sent within 24 h"), "{notice}");

    // `dead` lists it; `retry` sends it.
    h.say_text(ALICE, &h.mgmt, "backends").await;
    assert!(h.notices(&h.mgmt).pop().unwrap().contains("Given up: 1 sms-out"));
    h.say_text(ALICE, &h.mgmt, "dead").await;
    let listing = h.notices(&h.mgmt).pop().unwrap();
    let id = format!("sms-out-{}", h.job(&ev).id);
    assert!(listing.contains(&id) && listing.contains("too late"), "{listing}");
    h.backend.push_faults(&[]);
    while h.backend.sent().is_empty() {
        // Drain the scripted faults that are left.
        h.say_text(ALICE, &h.mgmt, &format!("retry {id}")).await;
        h.make_due();
        h.settle().await;
        if h.job(&ev).state == OutState::Dead {
            h.sql().execute("UPDATE outbox SET expires_at = 1", []).unwrap();
        }
    }
    assert_eq!(h.job(&ev).state, OutState::Sent);
    assert_eq!(h.status_names(&ev).last().unwrap(), "SUCCESS");

    // `drop` forgets one for good; `dead` is then empty.
    h.backend.push_faults(&[Fault::Transient]);
    let ev2 = h.say_text(ALICE, &room, "drop me").await;
    h.sql().execute("UPDATE outbox SET expires_at = 1 WHERE state = 'queued'", []).unwrap();
    h.backend.push_faults(&[Fault::Transient]);
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&ev2).state, OutState::Dead);
    h.say_text(ALICE, &h.mgmt, "drop all").await;
    assert_eq!(h.notices(&h.mgmt).pop().unwrap(), "Dropped 1.");
    h.say_text(ALICE, &h.mgmt, "dead").await;
    assert_eq!(h.notices(&h.mgmt).pop().unwrap(), "Nothing has been given up.");
    h.make_due();
    h.settle().await;
    assert_eq!(h.backend.sent().len(), 1, "the dropped message was not sent");
}

#[tokio::test]
async fn another_users_dead_items_are_not_theirs_to_see() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::Transient, Fault::Transient]);
    let ev = h.say_text(ALICE, &room, "alice's").await;
    h.sql().execute("UPDATE outbox SET expires_at = 1", []).unwrap();
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Dead);
    let carol = carol_management_room(&h).await;
    h.say_text(CAROL, &carol, "dead").await;
    assert_eq!(h.notices(&carol).pop().unwrap(), "Nothing has been given up.");
    h.say_text(CAROL, &carol, &format!("retry sms-out-{}", h.job(&ev).id)).await;
    assert!(h.notices(&carol).pop().unwrap().starts_with("No given-up item"));
    assert_eq!(h.job(&ev).state, OutState::Dead);
}

#[tokio::test]
async fn a_report_while_the_rest_is_retried_is_kept() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::TransientAtPart(1)]);
    let ev = h.say_text(ALICE, &room, &"d".repeat(400)).await;
    let job = h.job(&ev).id;
    // Part 1 is out and reported delivered while parts 2 and 3 wait for their retry.
    h.report(&format!("test-{job}-1"), DeliveryStatus::Delivered, &[]);
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Queued, "not delivered with two parts still to go");
    h.make_due();
    h.settle().await;
    for part in 2..=3 {
        h.report(&format!("test-{job}-{part}"), DeliveryStatus::Delivered, &[]);
    }
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Delivered, "part 1's report was not forgotten");
    assert_eq!(h.matrix.receipts().len(), 1);
}

#[tokio::test]
async fn a_part_failed_while_the_rest_waits_fails_the_message_once_and_stops_it() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::TransientAtPart(1)]);
    let ev = h.say_text(ALICE, &room, &"f".repeat(400)).await;
    let job = h.job(&ev).id;
    h.report(&format!("test-{job}-1"), DeliveryStatus::Failed, &[]);
    h.settle().await;
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Failed);
    assert_eq!(h.backend.parts_sent(), [(job, 0)], "the rest is not sent after the message failed");
    assert_eq!(h.notices(&room).len(), 1);
}

#[tokio::test]
async fn retrying_a_given_up_long_message_sends_only_its_missing_parts() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.backend.push_faults(&[Fault::TransientAtPart(1), Fault::Transient]);
    let ev = h.say_text(ALICE, &room, &"r".repeat(400)).await;
    let job = h.job(&ev).id;
    h.sql().execute("UPDATE outbox SET expires_at = 1", []).unwrap();
    h.make_due();
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Dead);
    h.say_text(ALICE, &h.mgmt, &format!("retry sms-out-{job}")).await;
    h.settle().await;
    assert_eq!(h.job(&ev).state, OutState::Sent);
    assert_eq!(h.backend.parts_sent(), [(job, 0), (job, 1), (job, 2)], "part 1 went once");
}

#[tokio::test]
async fn an_sms_whose_answer_was_lost_is_not_shown_twice_by_a_homeserver_that_forgot() {
    let h = Harness::new().await;
    h.inbound(BOB, "first", None);
    h.settle().await;
    let room = h.portal_room("15551234567");
    // The homeserver takes the SMS but its answer is lost; then it restarts and forgets
    // every transaction id, so the retry's own transaction id would make a second event.
    h.flaky.fail_next("send", Lose::Response);
    h.inbound(BOB, "only once", None);
    h.settle().await;
    h.matrix.forget_transactions(true);
    h.make_due();
    h.settle().await;
    let bodies: Vec<String> =
        h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].as_str().unwrap().to_string()).collect();
    assert_eq!(bodies, ["first", "only once"]);
    assert_eq!(h.bridge.store.waiting(Queue::Inbox).unwrap(), 0, "the SMS is done");
}
