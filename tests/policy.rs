//! Sending policy (`policy:`): the same rules for Matrix users and applications, each
//! refusal naming its rule, and nothing refused reaching the link.

mod common;

use common::core::{ALICE, BOB, CONFIG, Harness, OUR_NUMBER, api_send};
use serde_json::json;

const UK: &str = "+447700900123";
const TOKEN: &str = "tok-0123456789abcdef";

fn config() -> &'static str {
    Box::leak(
        format!(
            "{CONFIG}policy:\n  countries:\n    allow: [US, CA]\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      password: s3cret\n      token: {TOKEN}\n"
        )
        .into_boxed_str(),
    )
}

#[tokio::test]
async fn a_country_outside_the_allowlist_is_refused_from_matrix_and_from_the_api() {
    let h = Harness::new_with(config()).await;
    let rule = "+447700900123 is in GB, which is not in policy.countries.allow";

    // From Matrix: the status and a notice name the rule.
    let room = h.start_chat(UK, "447700900123").await;
    let ev = h.say_text(ALICE, &room, "Hello London").await;
    let statuses = h.statuses(&ev);
    assert_eq!(statuses.last().unwrap()["status"], "FAIL_PERMANENT", "{statuses:?}");
    assert_eq!(statuses.last().unwrap()["message"], format!("Not sent: {rule}."), "{statuses:?}");
    assert!(h.notices(&room).contains(&format!("Not sent: {rule}.")), "{:?}", h.notices(&room));
    // A scheduled one is refused as well.
    h.say_text(ALICE, &room, "!sms schedule +1h Later, London").await;
    assert_eq!(h.notices(&room).pop().unwrap(), format!("Not scheduled: {rule}."));

    // From the API and sendsms.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sms_bridge::api::router(h.bridge.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": UK, "text": "Hello from the API" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 422);
    assert_eq!(answer.json::<serde_json::Value>().await.unwrap()["error"], format!("not sent: {rule}"));
    let answer =
        reqwest::get(format!("{base}/cgi-bin/sendsms?username=app&password=s3cret&to=%2B447700900123&text=hi"))
            .await
            .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(answer.text().await.unwrap(), format!("not sent: {rule}"));

    // Nothing reached the link; an allowed country still goes.
    h.settle().await;
    assert!(h.backend.sent().is_empty(), "{:?}", h.backend.sent());
    let us = h.start_chat(BOB, "15551234567").await;
    h.say_text(ALICE, &us, "Hello Bob").await;
    assert_eq!(h.backend.sent().iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["Hello Bob"]);
}

#[tokio::test]
async fn a_long_message_is_refused_where_it_would_arrive_in_pieces() {
    let config = format!(
        "{CONFIG}policy:\n  countries:\n    no_split: [US]\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n"
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let long = "word ".repeat(40);
    let rule =
        "it needs 2 SMS, and US is in policy.countries.no_split (long messages arrive there in pieces, if at all)";
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.say_text(ALICE, &room, long.trim()).await;
    assert_eq!(h.statuses(&ev).last().unwrap()["message"], format!("Not sent: {rule}."));
    assert!(h.notices(&room).contains(&format!("Not sent: {rule}.")), "{:?}", h.notices(&room));
    h.say_text(ALICE, &room, &format!("!sms schedule +1h {}", long.trim())).await;
    assert_eq!(h.notices(&room).pop().unwrap(), format!("Not scheduled: {rule}."));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sms_bridge::api::router(h.bridge.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let answer = reqwest::Client::new()
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": BOB, "text": long.trim() }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 422);
    assert_eq!(answer.json::<serde_json::Value>().await.unwrap()["error"], format!("not sent: {rule}"));

    // One part still goes.
    h.say_text(ALICE, &room, "short").await;
    assert_eq!(h.backend.sent().iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["short"]);
}

fn sent_texts(h: &Harness) -> Vec<String> {
    h.backend.sent().iter().map(|s| s.text.clone()).collect()
}

#[tokio::test]
async fn a_number_past_its_cap_gets_nothing_more_until_an_admin_lifts_it() {
    let config = format!(
        "{CONFIG}policy:\n  caps:\n    per_hour: 3\n    per_day: 10\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n"
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let base = h.serve_api().await;
    let rule = "+15551234567 has had 3 messages in the last hour, the most policy.caps.per_hour allows (an admin can lift it: `limits lift +15551234567`)";

    // Two from Matrix and one from the API reach the cap; the fourth, from either, does not go.
    let room = h.start_chat(BOB, "15551234567").await;
    h.say_text(ALICE, &room, "one").await;
    h.say_text(ALICE, &room, "two").await;
    assert_eq!(api_send(&base, TOKEN, BOB, "three").await.0, 202);
    h.settle().await;
    let ev = h.say_text(ALICE, &room, "four").await;
    let last = h.statuses(&ev).last().unwrap().clone();
    assert_eq!(
        (last["status"].as_str(), last["message"].as_str()),
        (Some("FAIL_PERMANENT"), Some(&*format!("Not sent: {rule}.")))
    );
    assert!(h.notices(&room).contains(&format!("Not sent: {rule}.")), "{:?}", h.notices(&room));
    let (status, body) = api_send(&base, TOKEN, BOB, "five").await;
    assert_eq!((status, body["error"].as_str()), (422, Some(&*format!("not sent: {rule}"))));
    // Another number is not held back.
    let other = h.start_chat("+15557654321", "15557654321").await;
    h.say_text(ALICE, &other, "hello other").await;
    h.settle().await;
    assert_eq!(sent_texts(&h), ["one", "two", "three", "hello other"]);

    // The counters, for anyone; lifting, for admins only (Carol is a user).
    h.say_text(ALICE, &h.mgmt, "limits +1 555 123 4567").await;
    assert_eq!(
        h.notices(&h.mgmt).pop().unwrap(),
        "To +1 555-123-4567: 3 of 3 in the last hour, 3 of 10 in the last day."
    );
    let carol = common::core::carol_management_room(&h).await;
    h.say_text(common::core::CAROL, &carol, "limits lift +15551234567").await;
    assert_eq!(h.notices(&carol).pop().unwrap(), "Only bridge admins can lift or restore caps.");
    // Nor does she see how many others sent to a number she does not chat with.
    h.say_text(common::core::CAROL, &carol, "limits +15551234567").await;
    assert!(h.notices(&carol).pop().unwrap().starts_with("No counters to show"));
    h.say_text(common::core::CAROL, &carol, "limits").await;
    assert!(!h.notices(&carol).pop().unwrap().contains("555-123-4567"));
    h.say_text(ALICE, &h.mgmt, "limits lift +15551234567").await;
    assert_eq!(
        h.notices(&h.mgmt).pop().unwrap(),
        "Caps lifted for +1 555-123-4567 until `limits restore +15551234567`."
    );
    h.say_text(ALICE, &room, "six").await;
    assert_eq!(api_send(&base, TOKEN, BOB, "seven").await.0, 202);
    h.settle().await;
    h.say_text(ALICE, &h.mgmt, "limits").await;
    let overview = h.notices(&h.mgmt).pop().unwrap();
    assert!(
        overview.contains("Messages to one number: at most 3 an hour, at most 10 a day (policy.caps)."),
        "{overview}"
    );
    assert!(overview.contains("• +1 555-123-4567: 5"), "{overview}");
    assert!(overview.contains(&format!("Caps lifted for +1 555-123-4567 by {ALICE}.")), "{overview}");
    h.say_text(ALICE, &h.mgmt, "limits restore +15551234567").await;
    let ev = h.say_text(ALICE, &room, "eight").await;
    assert_eq!(h.statuses(&ev).last().unwrap()["status"], "FAIL_PERMANENT");
    assert_eq!(sent_texts(&h), ["one", "two", "three", "hello other", "six", "seven"]);
    // The audit log has each refusal, with who sent it and the rule.
    let refused: Vec<(String, String)> = h
        .sql()
        .prepare("SELECT origin, reason FROM audit WHERE status = 'refused' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let origins: Vec<&str> = refused.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(origins, [format!("matrix:{ALICE}"), "api:app".into(), format!("matrix:{ALICE}")]);
    assert!(refused.iter().all(|(_, why)| why.contains("policy.caps.per_hour")), "{refused:?}");
}

#[tokio::test]
async fn the_cap_is_counted_again_when_the_link_takes_a_message() {
    // Scheduled messages are queued under the cap and come due together: the link's claim
    // counts them and refuses the one past the cap.
    let config = format!("{CONFIG}policy:\n  caps:\n    per_hour: 2\n    per_day: 0\n");
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let room = h.start_chat(BOB, "15551234567").await;
    for n in ["a", "b", "c"] {
        h.say_text(ALICE, &room, &format!("!sms schedule +1h scheduled {n}")).await;
    }
    assert!(h.backend.sent().is_empty());
    // Two hours on: all three are due.
    h.sql().execute("UPDATE outbox SET not_before = not_before - 7200000", []).unwrap();
    h.settle().await;
    assert_eq!(sent_texts(&h), ["scheduled a", "scheduled b"]);
    let rule = "+15551234567 has had 2 messages in the last hour, the most policy.caps.per_hour allows";
    let notice = h.notices(&room).into_iter().find(|n| n.contains("not delivered")).expect("a notice");
    assert!(notice.contains(&format!("Not sent: {rule}")), "{notice}");
    let failed: String =
        h.sql().query_row("SELECT last_error FROM outbox WHERE body = 'scheduled c'", [], |r| r.get(0)).unwrap();
    assert!(failed.starts_with(rule), "{failed}");
    let (status, reason): (String, String) = h
        .sql()
        .query_row(
            "SELECT a.status, a.reason FROM audit a JOIN outbox o ON a.source = 'outbox' AND a.source_id = o.id WHERE o.body = 'scheduled c'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "refused");
    assert!(reason.starts_with(rule), "{reason}");
    // A new process counts what went before it.
    let h = h.restart().await;
    let ev = h.say_text(ALICE, &room, "after a restart").await;
    assert_eq!(h.statuses(&ev).last().unwrap()["status"], "FAIL_PERMANENT");
    assert!(h.backend.sent().is_empty());
}

#[tokio::test]
async fn a_country_gets_its_sender_and_names_go_only_where_allowed() {
    let config = format!(
        "{CONFIG}policy:\n  countries:\n    senders:\n      GB: ACME\n      \"*\": Shop\n      CA: \"+15550009999\"\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n"
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let base = h.serve_api().await;
    let uk = h.start_chat(UK, "447700900123").await;
    h.say_text(ALICE, &uk, "to the UK").await;
    let us = h.start_chat(BOB, "15551234567").await;
    h.say_text(ALICE, &us, "to the US").await;
    assert_eq!(api_send(&base, TOKEN, "+33612345678", "to France").await.0, 202);
    assert_eq!(api_send(&base, TOKEN, "+16135550123", "to Canada").await.0, 202);
    h.settle().await;
    let senders: Vec<(String, Option<String>)> = h.backend.sent().into_iter().map(|s| (s.text, s.sender)).collect();
    assert_eq!(
        senders,
        [
            ("to the UK".to_string(), Some("ACME".to_string())),
            // "*" is a name, and the US wants a number: the link's own.
            ("to the US".to_string(), None),
            ("to France".to_string(), Some("Shop".to_string())),
            ("to Canada".to_string(), Some("+15550009999".to_string())),
        ]
    );
}

#[tokio::test]
async fn a_dry_run_says_what_would_happen_and_sends_nothing() {
    let config = format!(
        "{CONFIG}policy:\n  countries:\n    allow: [US, GB]\n    max_parts:\n      GB: 1\n    senders:\n      GB: ACME\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n"
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let base = h.serve_api().await;

    h.say_text(ALICE, &h.mgmt, "check +447700900123 Hello there").await;
    let said = h.notices(&h.mgmt).pop().unwrap();
    assert_eq!(
        said,
        "Check of a message to +447700900123:\n• link test1 (test), connected\n• from +15550001111, shown as ACME (policy.countries.senders)\n• send rate: no limit\n• 1 SMS, gsm7\n• To +44 7700 900123: 0 of 30 in the last hour, 0 of 200 in the last day.\n✅ It would be sent."
    );
    let long = "Ünïcödé ".repeat(10);
    h.say_text(ALICE, &h.mgmt, &format!("check +447700900123 {long}")).await;
    let said = h.notices(&h.mgmt).pop().unwrap();
    assert!(said.contains("• 2 SMS, ucs2"), "{said}");
    assert!(
        said.ends_with(
            "⛔ It would not be sent: it needs 2 SMS, more than the 1 policy.countries.max_parts allows for GB"
        ),
        "{said}"
    );
    h.say_text(ALICE, &h.mgmt, "check +33612345678 Bonjour").await;
    let said = h.notices(&h.mgmt).pop().unwrap();
    assert!(
        said.ends_with("⛔ It would not be sent: +33612345678 is in FR, which is not in policy.countries.allow"),
        "{said}"
    );

    let check = |body: serde_json::Value| {
        let base = base.clone();
        async move {
            let a = reqwest::Client::new()
                .post(format!("{base}/api/v1/check"))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (a.status().as_u16(), a.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, a) = check(json!({ "to": UK, "text": "Hello there" })).await;
    assert_eq!(status, 200);
    assert_eq!(
        a,
        json!({
            "would_send": true, "refused": null, "via": "test1", "kind": "test", "link_connected": true,
            "from": OUR_NUMBER, "sender": "ACME", "to": UK, "encoding": "gsm7", "parts": 1,
        })
    );
    let (_, a) = check(json!({ "to": "+33612345678", "text": "Bonjour" })).await;
    assert_eq!(a["would_send"], false);
    assert_eq!(a["refused"], "not sent: +33612345678 is in FR, which is not in policy.countries.allow");
    let (_, a) = check(json!({ "to": UK, "text": long })).await;
    assert_eq!((a["parts"].as_u64(), a["encoding"].as_str()), (Some(2), Some("ucs2")));
    assert!(a["refused"].as_str().unwrap().contains("policy.countries.max_parts"), "{a}");
    let (_, a) = check(json!({ "to": BOB, "text": "hi", "via": "nope" })).await;
    assert_eq!(a["refused"], "no link \"nope\"");
    assert_eq!(check(json!({ "to": BOB })).await.0, 400);

    // Nothing was queued or sent.
    h.settle().await;
    assert!(h.backend.sent().is_empty());
    let queued: i64 = h.sql().query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0)).unwrap();
    assert_eq!(queued, 0);
}

#[tokio::test]
async fn the_test_link_keeps_to_its_send_rate() {
    let config = format!(
        "{CONFIG}policy:\n  rate:\n    per_second: 2\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n"
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let user = h.bridge.config.gateway.as_ref().unwrap().users[0].clone();
    for i in 0..6 {
        let req = sms_bridge::bridge::gateway::ApiSend {
            to: format!("+1555123400{i}"),
            text: format!("m{i}"),
            ..Default::default()
        };
        h.bridge.submit(&user, &req).unwrap();
    }
    let worker = h.bridge.spawn_outbox(h.backend_dyn.clone());
    let times = sent_times(|| h.backend.sent().len(), 6).await;
    worker.abort();
    assert_rate(&times, 2, std::time::Duration::from_secs(1));
}

/// When each of `n` sends was first seen, polling `count`.
async fn sent_times(count: impl Fn() -> usize, n: usize) -> Vec<tokio::time::Instant> {
    let start = tokio::time::Instant::now();
    let mut times = Vec::new();
    while times.len() < n {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "only {} of {n} sent", times.len());
        let seen = count();
        while times.len() < seen {
            times.push(tokio::time::Instant::now());
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    times
}

/// No more than `most` of `times` within any `window` (a few milliseconds of slack for
/// the polling or the peer's clock).
fn assert_rate(times: &[tokio::time::Instant], most: usize, window: std::time::Duration) {
    let slack = std::time::Duration::from_millis(50);
    for (i, pair) in times.windows(most + 1).enumerate() {
        let span = pair[most] - pair[0];
        assert!(span + slack >= window, "sends {i} to {} within {span:?}: {times:?}", i + most);
    }
    // And the rate was not met by sending nothing: all went within the expected time.
    let total = times[times.len() - 1] - times[0];
    let expected = window * ((times.len() - 1) / most) as u32;
    assert!(total < expected + window, "{total:?} for {} sends", times.len());
}

#[tokio::test]
async fn the_smpp_link_keeps_to_its_send_rate_and_sends_the_countrys_name() {
    // smpp34's SMSC, in process, records when it accepted each submit_sm.
    let smsc = common::smsc::Smsc::start().await;
    let config = format!(
        "{}policy:\n  rate:\n    per_second: 50\n  links:\n    smsc:\n      rate:\n        per_second: 2\n        per_minute: 30\n  countries:\n    senders:\n      GB: ACME\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n      default_link: smsc\n",
        common::core::config_with_links(&format!(
            "  - id: test1\n    type: test\n    number: \"+15550001111\"\n  - id: smsc\n    type: smpp\n    number: \"+15550002222\"\n    host: 127.0.0.1\n    port: {}\n    system_id: {}\n    password: {}\n",
            smsc.port,
            common::smsc::SYSTEM_ID,
            common::smsc::PASSWORD
        ))
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let smpp = h.bridge.backends["smsc"].clone();
    let start = tokio::time::Instant::now();
    while smpp.state() != sms_bridge::backend::LinkState::Connected {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "the SMPP link did not bind");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let user = h.bridge.config.gateway.as_ref().unwrap().users[0].clone();
    for i in 0..5 {
        let to = if i == 0 { UK.to_string() } else { format!("+1555123400{i}") };
        let req = sms_bridge::bridge::gateway::ApiSend { to, text: format!("m{i}"), ..Default::default() };
        h.bridge.submit(&user, &req).unwrap();
    }
    let worker = h.bridge.spawn_outbox(smpp);
    let handler = smsc.handler.clone();
    sent_times(|| handler.accepted().len(), 5).await;
    worker.abort();
    let accepted = smsc.handler.accepted();
    let times: Vec<_> = accepted.iter().map(|a| a.at).collect();
    assert_rate(&times, 2, std::time::Duration::from_secs(1));
    let uk = accepted.iter().find(|a| a.pdu.destination_addr == "447700900123").expect("the UK message");
    assert_eq!((uk.pdu.source_addr.as_str(), uk.pdu.source_addr_ton), ("ACME", 5), "a name, as alphanumeric (TON 5)");
    let us = accepted.iter().find(|a| a.pdu.destination_addr == "15551234001").expect("a US message");
    assert_eq!(us.pdu.source_addr, "15550002222");
}

#[tokio::test]
async fn a_message_retried_after_a_long_outage_is_not_refused_by_the_cap_it_passed() {
    let links = "  - id: test1\n    type: test\n    number: \"+15550001111\"\n  - id: test2\n    type: test\n    number: \"+15550002222\"\n";
    let config = format!(
        "{}policy:\n  caps:\n    per_hour: 2\n    per_day: 0\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n",
        common::core::config_with_links(links)
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    // Taken by test1, which fails for a while: it waits to be tried again.
    h.backend.push_faults(&[sms_bridge::backend::test::Fault::Transient]);
    let room = h.start_chat(BOB, "15551234567").await;
    h.say_text(ALICE, &room, "first").await;
    assert!(h.backend.sent().is_empty());
    // Two hours on, two more to the same number through test2 fill the hour's cap.
    h.sql().execute("UPDATE outbox SET claimed_at = claimed_at - 7200000 WHERE body = 'first'", []).unwrap();
    // (A new process, so that the counts read from the outbox see the two hours.)
    let h = h.restart().await;
    let user = h.bridge.config.gateway.as_ref().unwrap().users[0].clone();
    for text in ["api one", "api two"] {
        let req = sms_bridge::bridge::gateway::ApiSend {
            link: Some("test2".into()),
            to: BOB.into(),
            text: text.into(),
            ..Default::default()
        };
        h.bridge.submit(&user, &req).unwrap();
    }
    h.settle().await;
    let test2 = &h.links[1];
    assert_eq!(test2.sent().iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["api one", "api two"]);
    // The retry was allowed and counted when first taken: it goes.
    h.make_due();
    h.settle().await;
    assert_eq!(sent_texts(&h), ["first"]);
}

#[tokio::test]
async fn messages_over_the_rate_stay_queued_and_a_restart_does_not_reset_the_rate() {
    let config = format!(
        "{CONFIG}policy:\n  rate:\n    per_minute: 2\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n"
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let user = h.bridge.config.gateway.as_ref().unwrap().users[0].clone();
    for i in 0..4 {
        let req = sms_bridge::bridge::gateway::ApiSend {
            to: format!("+1555123400{i}"),
            text: format!("m{i}"),
            ..Default::default()
        };
        h.bridge.submit(&user, &req).unwrap();
    }
    let states = |h: &Harness| -> Vec<String> {
        h.sql()
            .prepare("SELECT state FROM outbox ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let worker = h.bridge.spawn_outbox(h.backend_dyn.clone());
    sent_times(|| h.backend.sent().len(), 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    worker.abort();
    assert_eq!(h.backend.sent().len(), 2);
    // Not taken ahead of their turn: still queued, not marked as being sent.
    assert_eq!(states(&h), ["sent", "sent", "queued", "queued"]);

    // A new process remembers the minute's two sends.
    let h = h.restart().await;
    let worker = h.bridge.spawn_outbox(h.backend_dyn.clone());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    worker.abort();
    assert!(h.backend.sent().is_empty(), "{:?}", h.backend.sent());
    assert_eq!(states(&h), ["sent", "sent", "queued", "queued"]);
}

#[tokio::test]
async fn requests_that_pass_the_cap_one_by_one_are_checked_again_in_their_commit() {
    let config = format!(
        "{CONFIG}policy:\n  caps:\n    per_hour: 2\n    per_day: 0\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\n"
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let user = h.bridge.config.gateway.as_ref().unwrap().users[0].clone();
    let req =
        |text: &str| sms_bridge::bridge::gateway::ApiSend { to: BOB.into(), text: text.into(), ..Default::default() };
    h.bridge.submit(&user, &req("one")).unwrap();
    // Each of these alone would be the second message: together they are the second and
    // third, and the third is past the cap, so neither is queued.
    let both = h.bridge.submit_all(&user, &[req("two"), req("three")]);
    match both {
        Err(sms_bridge::bridge::gateway::SubmitError::Refused(why)) => {
            assert!(why.starts_with("not sent: +15551234567 has had 2 messages in the last hour"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let queued: Vec<String> = h
        .sql()
        .prepare("SELECT body FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(queued, ["one"]);
    let refused: i64 =
        h.sql().query_row("SELECT count(*) FROM audit WHERE status = 'refused'", [], |r| r.get(0)).unwrap();
    assert_eq!(refused, 1);
    // One more alone is still the second.
    h.bridge.submit(&user, &req("two again")).unwrap();
}
