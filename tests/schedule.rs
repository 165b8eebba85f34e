//! Scheduled messages from a portal (`!sms schedule`, `scheduled`, `unschedule`), with the
//! bridge core, the test link and an in-memory homeserver.

mod common;

use common::core::{ALICE, BOB, Harness};

/// Moves every scheduled message's time `ms` earlier, as if that much time had passed.
fn time_passes(h: &Harness, ms: i64) {
    h.sql().execute("UPDATE outbox SET not_before = not_before - ?1 WHERE not_before IS NOT NULL", [ms]).unwrap();
}

#[tokio::test]
async fn a_scheduled_message_waits_for_its_time_survives_a_restart_and_goes_once() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.say_text(ALICE, &room, "!sms schedule +2h Remember the dentist").await;
    let replies = h.notices(&room);
    assert!(replies.last().unwrap().starts_with("🕓 Scheduled for "), "{replies:?}");
    assert!(replies.last().unwrap().ends_with(": Remember the dentist"), "{replies:?}");
    let job = h.job(&ev);
    let due = job.not_before.expect("scheduled") - sms_bridge::store::now_ms();
    assert!((7_100_000..=7_200_000).contains(&due), "{due}");
    // Not before its time; a message sent meanwhile is not held up by it.
    h.say_text(ALICE, &room, "Hi now").await;
    assert_eq!(h.backend.sent().iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["Hi now"]);
    assert_eq!(h.status_names(&ev), ["PENDING"]);
    h.say_text(ALICE, &room, "!sms scheduled").await;
    let list = h.notices(&room).pop().unwrap();
    assert!(list.contains("1. ") && list.contains("Remember the dentist"), "{list}");

    // The bridge is down at its time and comes back 10 minutes later: it goes once, late,
    // and says so.
    let h = h.restart().await;
    time_passes(&h, 2 * 3600 * 1000 + 600_000);
    h.settle().await;
    h.settle().await;
    let sent: Vec<_> = h.backend.sent().into_iter().filter(|s| s.text == "Remember the dentist").collect();
    assert_eq!(sent.len(), 1);
    assert!(h.status_names(&ev).ends_with(&["SUCCESS".to_string()]), "{:?}", h.status_names(&ev));
    let late = h.notices(&room).pop().unwrap();
    assert!(late.starts_with("🕓 The scheduled message went 10 min after its time"), "{late}");
}

#[tokio::test]
async fn unschedule_cancels_and_bad_times_are_explained() {
    let h = Harness::new().await;
    let room = h.start_chat(BOB, "15551234567").await;
    let morning = h.say_text(ALICE, &room, "!sms schedule tomorrow 8:00 Good morning").await;
    h.say_text(ALICE, &room, "!sms schedule +3h Later").await;
    // Listed by time: +3h comes first, tomorrow 8:00 (at least 25 h away) second.
    h.say_text(ALICE, &room, "!sms unschedule 2").await;
    assert_eq!(h.notices(&room).pop().unwrap(), "Unscheduled: Good morning");
    assert!(h.status_names(&morning).ends_with(&["FAIL_PERMANENT".to_string()]), "{:?}", h.status_names(&morning));
    h.say_text(ALICE, &room, "!sms unschedule 5").await;
    assert!(h.notices(&room).pop().unwrap().starts_with("Say `unschedule <n>` with n from 1 to 1"));
    for (bad, says) in [
        ("!sms schedule soon hi", "Not scheduled: cannot read \"soon\" as a time"),
        ("!sms schedule +2h", "Not scheduled: there is no text after the time."),
        ("!sms schedule 2020-01-01 09:00 too late", "Not scheduled: 2020-01-01 09:00"),
    ] {
        h.say_text(ALICE, &room, bad).await;
        let reply = h.notices(&room).pop().unwrap();
        assert!(reply.starts_with(says), "{bad}: {reply}");
    }
    // A day and a half later: only the one still scheduled went.
    time_passes(&h, 36 * 3600 * 1000);
    h.settle().await;
    let texts: Vec<String> = h.backend.sent().into_iter().map(|s| s.text).collect();
    assert_eq!(texts, ["Later"]);
}
