//! Sending policy (`policy:`): the same rules for Matrix users and applications, each
//! refusal naming its rule, and nothing refused reaching the link.

mod common;

use common::core::{ALICE, BOB, CONFIG, Harness};
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
