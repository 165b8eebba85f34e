//! The gateway for applications: Kannel's `sendsms` as Kannel clients call it, and the
//! JSON API with signed, durable callbacks; with the bridge core, a test link and an
//! in-memory homeserver.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use common::core::{BOB, CONFIG, Harness};
use serde_json::{Value, json};
use sms_bridge::backend::DeliveryStatus;
use sms_bridge::store::OutState;

const TOKEN: &str = "tok-0123456789abcdef";

fn config() -> &'static str {
    Box::leak(
        format!(
            "{CONFIG}gateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      password: s3cret\n      token: {TOKEN}\n      secret: sign-me\n"
        )
        .into_boxed_str(),
    )
}

/// What an application's callback endpoint received: (query or body, headers).
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, HeaderMap)>>>);

impl Received {
    fn all(&self) -> Vec<(String, HeaderMap)> {
        self.0.lock().unwrap().clone()
    }
}

/// An application's endpoint for dlr-url GETs and callback POSTs, on `listener`.
fn app_endpoint(listener: tokio::net::TcpListener) -> Received {
    let got = Received::default();
    let app = axum::Router::new()
        .route(
            "/dlr",
            get(|State(r): State<Received>, RawQuery(q): RawQuery, h: HeaderMap| async move {
                r.0.lock().unwrap().push((q.unwrap_or_default(), h));
                "ok"
            }),
        )
        .route(
            "/cb",
            post(|State(r): State<Received>, h: HeaderMap, body: String| async move {
                r.0.lock().unwrap().push((body, h));
                "ok"
            }),
        )
        .with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    got
}

async fn http_get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn sendsms_as_kannel_clients_call_it() {
    let h = Harness::new_with(config()).await;
    let base = h.serve_api().await;
    let dlr_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dlr_base = format!("http://{}", dlr_listener.local_addr().unwrap());
    let dlrs = app_endpoint(dlr_listener);

    // The reply-back tutorial's request: coding=2 without a charset is UTF-16BE, 😀.
    let (status, body) = http_get(&format!(
        "{base}/cgi-bin/sendsms?username=app&password=s3cret&to=15551234567&coding=2&text=%D8%3D%DE%00"
    ))
    .await;
    assert_eq!((status, body.as_str()), (202, "0: Accepted for delivery"));
    // Answered only after the commit: the message is in the outbox already.
    let queued: i64 = h.sql().query_row("SELECT count(*) FROM outbox WHERE body = '😀'", [], |r| r.get(0)).unwrap();
    assert_eq!(queued, 1);
    h.run_apps_until("the emoji sent", |h| h.backend.sent().iter().any(|s| s.text == "😀")).await;

    // Several recipients (space-separated, `+` in a query), a dlr-url with escapes.
    let dlr_url = format!("{dlr_base}/dlr?type=%d&to=%p&from=%P&smsc=%i&id=%I");
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/cgi-bin/sendsms"),
        &[
            ("username", "app"),
            ("password", "s3cret"),
            ("to", "+15551234567 +15557654321"),
            ("text", "Hello from a script"),
            ("dlr-mask", "9"),
            ("dlr-url", &dlr_url),
        ],
    )
    .unwrap();
    let (status, body) = http_get(url.as_str()).await;
    assert_eq!((status, body.as_str()), (202, "0: Accepted for delivery"));
    h.run_apps_until("both sent", |h| h.backend.sent().iter().filter(|s| s.text == "Hello from a script").count() == 2)
        .await;
    // SMSC accepted (8) for each, then delivered (1) for Bob's.
    h.run_apps_until("two type-8 reports", |_| {
        dlrs.all().iter().filter(|(q, _)| q.starts_with("type=8&")).count() == 2
    })
    .await;
    let bob_job = h.backend.sent().iter().find(|s| s.to == BOB && s.text == "Hello from a script").unwrap().job_id;
    let bob_id = format!("test-{bob_job}");
    h.report(&bob_id, DeliveryStatus::Delivered, &[]);
    h.run_apps_until("the delivered report", |_| dlrs.all().iter().any(|(q, _)| q.starts_with("type=1&"))).await;
    let delivered = dlrs.all().into_iter().find(|(q, _)| q.starts_with("type=1&")).unwrap().0;
    assert!(delivered.contains("to=%2B15551234567") && delivered.contains("from=%2B15550001111"), "{delivered}");
    assert!(delivered.contains("smsc=test1"), "{delivered}");

    // The person sees what the applications sent, in the portal.
    let room = h.portal_room("15551234567");
    let notices = h.notices(&room);
    assert!(notices.iter().any(|n| n.contains("😀") && n.contains("sent by app")), "{notices:?}");

    // Bad credentials, and missing fields, answered as Kannel does.
    let (status, body) = http_get(&format!("{base}/cgi-bin/sendsms?username=app&password=nope&to=1&text=x")).await;
    assert_eq!((status, body.as_str()), (403, "Authorization failed for sendsms"));
    let (status, _) = http_get(&format!("{base}/cgi-bin/sendsms?username=app&password=s3cret&text=x")).await;
    assert_eq!(status, 400);
    // One unusable recipient refuses the request before any is queued.
    let before = h.sql().query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0)).unwrap();
    let (status, body) =
        http_get(&format!("{base}/cgi-bin/sendsms?username=app&password=s3cret&to=15551234567+-&text=partial")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("nothing was sent"), "{body}");
    let after = h.sql().query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(before, after);
    // A port-addressed message: 8-bit data after its header, as Kannel clients send it.
    let (status, body) = http_get(&format!(
        "{base}/cgi-bin/sendsms?username=app&password=s3cret&to=15551234567&coding=1&udh=%06%05%04%0B%84%23%F0&text=%01%02%FF"
    ))
    .await;
    assert_eq!((status, body.as_str()), (202, "0: Accepted for delivery"));
    h.run_apps_until("the binary message sent", |h| h.backend.sent().iter().any(|s| s.binary.is_some())).await;
    let sent = h.backend.sent().into_iter().find(|s| s.binary.is_some()).unwrap();
    let binary = sent.binary.unwrap();
    assert_eq!(
        (binary.udh.as_slice(), binary.data.as_slice()),
        (&[0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0][..], &[1, 2, 0xFF][..])
    );
    let room = h.portal_room("15551234567");
    assert!(
        h.notices(&room).iter().any(|n| n == "📤 [8-bit data, 3 octets, UDH 0605040B8423F0] (sent by app)"),
        "{:?}",
        h.notices(&room)
    );
    // Over one SMS: refused, not cut.
    let big = "%00".repeat(134);
    let (status, body) =
        http_get(&format!("{base}/cgi-bin/sendsms?username=app&password=s3cret&to=15551234567&coding=1&udh=%06%05%04%0B%84%23%F0&text={big}")).await;
    assert_eq!(status, 400, "{body}");
    // What the links cannot carry yet is refused, not dropped: text after a header.
    let (status, body) = http_get(&format!(
        "{base}/cgi-bin/sendsms?username=app&password=s3cret&to=15551234567&coding=0&text=x&udh=%06%05%04%0B%84%23%F0"
    ))
    .await;
    assert_eq!((status, body.as_str()), (400, "UDH field not supported, rejected"));
}

/// The outbox row of the newest message, as (not_before, valid_until, class).
fn newest_options(h: &Harness) -> (Option<i64>, Option<i64>, Option<u8>) {
    h.sql()
        .query_row("SELECT not_before, valid_until, class FROM outbox ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
}

#[tokio::test]
async fn deferred_messages_wait_without_holding_up_the_conversation_and_carry_validity_and_class() {
    let h = Harness::new_with(config()).await;
    let base = h.serve_api().await;
    let t0 = sms_bridge::store::now_ms();
    // Kannel's deferred and validity are minutes; mclass=0 is a flash SMS.
    let (status, body) = http_get(&format!(
        "{base}/cgi-bin/sendsms?username=app&password=s3cret&to=15551234567&text=Later&deferred=10&validity=90&mclass=0"
    ))
    .await;
    assert_eq!((status, body.as_str()), (202, "3: Queued for later delivery"));
    let (not_before, valid_until, class) = newest_options(&h);
    let not_before = not_before.expect("scheduled");
    assert!((t0 + 600_000..t0 + 610_000).contains(&not_before), "{not_before} vs {t0}");
    assert_eq!((valid_until, class), (Some(not_before + 90 * 60_000), Some(0)));
    // A later message to the same person goes now: the scheduled one holds up nothing.
    let (status, body) =
        http_get(&format!("{base}/cgi-bin/sendsms?username=app&password=s3cret&to=15551234567&text=Now")).await;
    assert_eq!((status, body.as_str()), (202, "0: Accepted for delivery"));
    h.run_apps_until("the unscheduled message sent", |h| h.backend.sent().iter().any(|s| s.text == "Now")).await;
    assert!(h.backend.sent().iter().all(|s| s.text != "Later"), "sent before its time");
    // The portal shows it as scheduled.
    let room = h.portal_room("15551234567");
    assert!(
        h.notices(&room).iter().any(|n| n.starts_with("📤 Later (sent by app, scheduled for ")),
        "{:?}",
        h.notices(&room)
    );
    // Its time comes: it goes with its class and the validity left (90 minutes from its time).
    h.sql().execute("UPDATE outbox SET not_before = not_before - 600000, valid_until = valid_until - 600000 WHERE body = 'Later'", []).unwrap();
    h.run_apps_until("the scheduled message sent", |h| h.backend.sent().iter().any(|s| s.text == "Later")).await;
    let later = h.backend.sent().into_iter().find(|s| s.text == "Later").unwrap();
    assert_eq!(later.options.class, Some(0));
    assert_eq!(later.options.validity_minutes, Some(90));

    // The JSON API: send_at (RFC 3339), validity_minutes and class.
    let http = reqwest::Client::new();
    let at = jiff::Timestamp::from_millisecond(t0 + 3_600_000).unwrap().to_string();
    let answer = http
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": BOB, "text": "In an hour", "send_at": at, "validity_minutes": 30, "class": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202, "{}", answer.text().await.unwrap());
    let (not_before, valid_until, class) = newest_options(&h);
    assert_eq!(not_before.map(|t| t / 1000), Some((t0 + 3_600_000) / 1000));
    assert_eq!((valid_until, class), (not_before.map(|t| t + 30 * 60_000), Some(1)));
    for (bad, status) in [
        (json!({ "to": BOB, "text": "x", "send_at": "tomorrow" }), 400),
        (json!({ "to": BOB, "text": "x", "validity_minutes": 0 }), 422),
        (json!({ "to": BOB, "text": "x", "class": 4 }), 422),
        (json!({ "to": BOB, "text": "x", "send_at": "2099-01-01T00:00:00Z" }), 422),
    ] {
        let answer = http.post(format!("{base}/api/v1/messages")).bearer_auth(TOKEN).json(&bad).send().await.unwrap();
        assert_eq!(answer.status(), status, "{bad}: {}", answer.text().await.unwrap());
    }
}

#[tokio::test]
async fn a_message_whose_validity_ran_out_before_it_could_leave_fails_and_says_so() {
    let h = Harness::new_with(config()).await;
    let base = h.serve_api().await;
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": BOB, "text": "Your code is 1234", "validity_minutes": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let id = answer.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // The link was away for longer than the validity.
    h.sql()
        .execute(
            "UPDATE outbox SET valid_until = ?1 WHERE body = 'Your code is 1234'",
            [sms_bridge::store::now_ms() - 1],
        )
        .unwrap();
    h.run_apps_until("the message failed", |h| h.bridge.store.api_message(id).unwrap().unwrap().state == "failed")
        .await;
    assert!(h.backend.sent().is_empty(), "sent after its validity");
    let v: Value =
        http.get(format!("{base}/api/v1/messages/{id}")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["status"], "failed", "{v}");
    // The portal, which shows the message, says it never went.
    h.settle().await;
    let notices = h.notices(&h.portal_room("15551234567"));
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with("⚠ A message an application sent here was not delivered. Not sent: its validity")),
        "{notices:?}"
    );
}

#[tokio::test]
async fn json_api_with_signed_callbacks_that_survive_a_restart() {
    let h = Harness::new_with(config()).await;
    let base = h.serve_api().await;
    // The application's endpoint is down at first: its port is reserved, nothing answers.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cb_addr = reserved.local_addr().unwrap();
    drop(reserved);
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": BOB, "text": "Your table is ready", "callback_url": format!("http://{cb_addr}/cb"), "client_ref": "order-7" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    let accepted: Value = answer.json().await.unwrap();
    assert_eq!(
        (accepted["parts"].as_u64(), accepted["encoding"].as_str(), accepted["via"].as_str()),
        (Some(1), Some("gsm7"), Some("test1"))
    );
    let id = accepted["id"].as_i64().unwrap();
    h.run_apps_until("the send", |h| h.backend.sent().iter().any(|s| s.text == "Your table is ready")).await;
    h.run_apps_until("a callback attempt", |h| {
        h.sql().query_row("SELECT attempts FROM callbacks", [], |r| r.get::<_, i64>(0)).unwrap_or(0) > 0
    })
    .await;

    // The bridge restarts; the application comes back; the callback still arrives, signed.
    let h = h.restart().await;
    let got = app_endpoint(tokio::net::TcpListener::bind(cb_addr).await.unwrap());
    h.run_apps_until("the callback", |_| !got.all().is_empty()).await;
    let (body, headers) = got.all().remove(0);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["id"].as_i64(), v["status"].as_str(), v["client_ref"].as_str()),
        (Some(id), Some("sent"), Some("order-7"))
    );
    let ts = headers["x-timestamp"].to_str().unwrap();
    let expected = sms_bridge::bridge::gateway::sign("sign-me", ts, &body);
    assert_eq!(headers["x-signature"].to_str().unwrap(), expected);

    // Status by id; someone else's token is refused.
    let base = h.serve_api().await;
    let status: Value =
        http.get(format!("{base}/api/v1/messages/{id}")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["status"], "sent");
    assert_eq!(status["parts"].as_array().map(Vec::len), Some(1));
    let refused =
        http.get(format!("{base}/api/v1/messages/{id}")).bearer_auth("wrong-token-123456").send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let bad = http
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": "hello", "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
}

#[tokio::test]
async fn keyword_services_from_the_reply_back_tutorial() {
    let services = "services:\n  - keyword-regex: \"^(?i)(yes|no)$\"\n    text: \"Message received (%t)\"\n  - keyword: stop\n    text: You will get no more messages\n    bridge: false\n  - keyword: default\n    max-messages: 0\n";
    let h = Harness::new_with(Box::leak(format!("{CONFIG}{services}").into_boxed_str())).await;
    h.inbound(BOB, "YES", None);
    h.inbound(BOB, "hello there", None);
    h.inbound(BOB, "STOP", None);
    h.run_apps_until("two replies", |h| h.backend.sent().len() == 2).await;
    let sent = h.backend.sent();
    assert!(sent[0].to == BOB && sent[0].text.starts_with("Message received (20"), "{sent:?}");
    assert_eq!(sent[1].text, "You will get no more messages");
    // Handled again (as after a crash): no second reply.
    h.make_due();
    h.settle().await;
    assert_eq!(h.backend.sent().len(), 2);
    // YES and the other text reach the portal, STOP (bridge: false) does not; the replies
    // show there as sent by their service.
    let room = h.portal_room("15551234567");
    let texts: Vec<String> = h
        .ghost_messages(&room, common::core::BOB_GHOST)
        .iter()
        .map(|e| e.content["body"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts, ["YES", "hello there"]);
    let notices = h.notices(&room);
    assert!(
        notices.iter().any(|n| n.starts_with("📤 Message received (") && n.contains("sent by service")),
        "{notices:?}"
    );
    assert!(notices.iter().any(|n| n.starts_with("📤 You will get no more messages")), "{notices:?}");
}

#[tokio::test]
async fn webhooks_get_inbound_sms_and_reports_once_signed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let got = app_endpoint(listener);
    let hooks = format!(
        "{}  webhooks:\n    - url: {url}\n      secret: hook-secret\n    - url: {url}\n      numbers: [\"+19995550000\"]\n",
        config()
    );
    let h = Harness::new_with(Box::leak(hooks.into_boxed_str())).await;
    h.inbound(BOB, "Is the shop open?", None);
    h.run_apps_until("the webhook", |_| !got.all().is_empty()).await;
    // Handled again (as after a crash): not told twice; the second hook wants another number.
    h.make_due();
    h.settle().await;
    h.bridge.drain_callbacks().await.unwrap();
    let all = got.all();
    assert_eq!(all.len(), 1, "{:?}", all.iter().map(|(b, _)| b).collect::<Vec<_>>());
    let (body, headers) = &all[0];
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["from"].as_str(), v["text"].as_str()),
        (Some("sms"), Some(BOB), Some("Is the shop open?"))
    );
    let ts = headers["x-timestamp"].to_str().unwrap();
    assert_eq!(headers["x-signature"].to_str().unwrap(), sms_bridge::bridge::gateway::sign("hook-secret", ts, body));
}

#[tokio::test]
async fn the_openapi_document_describes_the_live_api() {
    let h = Harness::new_with(config()).await;
    let base = h.serve_api().await;
    let doc: Value = reqwest::get(format!("{base}/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/api/v1/check",
            "/api/v1/media/{id}/{token}",
            "/api/v1/messages",
            "/api/v1/messages/{id}",
            "/api/v1/openapi.json",
            "/api/v1/questions",
            "/api/v1/questions/{id}",
            "/cgi-bin/sendsms"
        ]
    );
    // Each documented path answers (not 404/405) with the method it is documented with.
    let http = reqwest::Client::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let url = format!("{base}{}", path.replace("{id}", "1"));
            let r = http.request(method.to_uppercase().parse().unwrap(), &url).send().await.unwrap();
            assert!(
                ![404, 405].contains(&r.status().as_u16()) || path.contains("{id}"),
                "{method} {path}: {}",
                r.status()
            );
        }
    }
    // The request schema is the type the API reads: required fields and no others.
    let send = &doc["components"]["schemas"]["SendRequest"];
    let mut required: Vec<&str> = send["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    required.sort();
    assert_eq!(required, ["text", "to"]);
    assert_eq!(send["additionalProperties"], false);
    // A real answer has exactly the properties its schema lists.
    let accepted: Value = http
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": BOB, "text": "schema check" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut got: Vec<&String> = accepted.as_object().unwrap().keys().collect();
    let mut documented: Vec<&String> =
        doc["components"]["schemas"]["Accepted"]["properties"].as_object().unwrap().keys().collect();
    got.sort();
    documented.sort();
    assert_eq!(got, documented);
}

async fn ask(http: &reqwest::Client, base: &str, body: Value) -> i64 {
    let r = http.post(format!("{base}/api/v1/questions")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn question(http: &reqwest::Client, base: &str, id: i64) -> Value {
    http.get(format!("{base}/api/v1/questions/{id}")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap()
}

/// Runs the queues, questions included, until `done`.
async fn until_q(h: &Harness, what: &str, done: impl Fn(&Harness) -> bool) {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        h.bridge.drain_questions().await.unwrap();
        h.make_due();
        h.settle().await;
        h.bridge.drain_callbacks().await.unwrap();
        if done(h) {
            return;
        }
        assert!(tokio::time::Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test]
async fn questions_wait_their_turn_take_the_next_sms_as_answer_and_expire() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cb = format!("http://{}/cb", listener.local_addr().unwrap());
    let got = app_endpoint(listener);
    let h = Harness::new_with(config()).await;
    let base = h.serve_api().await;
    let http = reqwest::Client::new();
    let q1 = ask(
        &http,
        &base,
        json!({ "to": BOB, "text": "Table for 4 at 8pm? yes/no", "timeout": 600, "callback_url": cb }),
    )
    .await;
    let q2 = ask(&http, &base, json!({ "to": BOB, "text": "Parking too? yes/no", "timeout": 600 })).await;
    until_q(&h, "the first question sent", |h| h.backend.sent().len() == 1).await;
    // One question at a time per pair: the second waits.
    for _ in 0..5 {
        h.bridge.drain_questions().await.unwrap();
        h.settle().await;
    }
    assert_eq!(h.backend.sent().len(), 1);
    assert_eq!(question(&http, &base, q2).await["status"], "waiting");

    // The answer arrives; the bridge restarts before anything else happens.
    h.inbound(BOB, "yes", None);
    h.settle().await;
    let h = h.restart().await;
    let base = h.serve_api().await;
    // (A restarted harness has a fresh test link: it lists only what it sent itself.)
    let sent = |h: &Harness, text: &str| h.backend.sent().iter().filter(|s| s.text == text).count();
    until_q(&h, "the answer's callback and the second question", |h| {
        !got.all().is_empty() && sent(h, "Parking too? yes/no") == 1
    })
    .await;
    let v = question(&http, &base, q1).await;
    assert_eq!((v["status"].as_str(), v["answer"].as_str()), (Some("answered"), Some("yes")), "{v}");
    let (body, _) = got.all().remove(0);
    let cbv: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (cbv["question"].as_i64(), cbv["status"].as_str(), cbv["answer"].as_str()),
        (Some(q1), Some("answered"), Some("yes"))
    );
    // The question's SMS may live as long as the question and no longer.
    assert_eq!(h.backend.sent()[0].options.validity_minutes, Some(10));
    // The question and its answer show in the portal, the answer as a reply to it.
    let room = h.portal_room("15551234567");
    let copy = h
        .matrix
        .events_in(&room)
        .into_iter()
        .find(|e| e.content["body"] == format!("📤 Table for 4 at 8pm? yes/no (question {q1} from app)"))
        .expect("the question in the portal");
    let ghost = h.ghost_messages(&room, common::core::BOB_GHOST);
    let answer = ghost.iter().find(|e| e.content["body"] == "yes").expect("the answer in the portal");
    assert_eq!(answer.content["m.relates_to"]["m.in_reply_to"]["event_id"], copy.event_id.as_str());

    // Unanswered, the second expires and frees the pair for a third.
    h.sql().execute("UPDATE questions SET expires_at = 0 WHERE id = ?1", [q2]).unwrap();
    let q3 = ask(&http, &base, json!({ "to": BOB, "text": "Anything else?", "timeout": 600 })).await;
    until_q(&h, "the third question", |h| sent(h, "Anything else?") == 1).await;
    assert_eq!(question(&http, &base, q2).await["status"], "expired");
    assert_eq!(question(&http, &base, q3).await["status"], "asked");

    // A question that expires before its SMS could leave is not sent late.
    h.sql().execute("UPDATE questions SET expires_at = 0 WHERE id = ?1", [q3]).unwrap();
    let q4 = ask(&http, &base, json!({ "to": BOB, "text": "Last one?", "timeout": 600 })).await;
    h.bridge.drain_questions().await.unwrap();
    assert_eq!(question(&http, &base, q4).await["status"], "asked");
    h.sql().execute("UPDATE questions SET expires_at = 0 WHERE id = ?1", [q4]).unwrap();
    h.bridge.drain_questions().await.unwrap();
    assert_eq!(question(&http, &base, q4).await["status"], "expired");
    let job = h.job(&format!("question:{q4}"));
    assert_eq!((job.state, job.valid_until.is_some()), (OutState::Failed, true));
    h.settle().await;
    assert_eq!(sent(&h, "Last one?"), 0);

    // A question the link refuses fails and frees its pair.
    h.backend.push_faults(&[sms_bridge::backend::test::Fault::Permanent]);
    let q5 = ask(&http, &base, json!({ "to": BOB, "text": "Refused?", "timeout": 600 })).await;
    until_q(&h, "the refused question failed", |h| {
        h.bridge.store.question(q5).unwrap().is_some_and(|q| q.state == "failed")
    })
    .await;
    let q6 = ask(&http, &base, json!({ "to": BOB, "text": "After the refusal", "timeout": 600 })).await;
    until_q(&h, "the next question sent", |h| sent(h, "After the refusal") == 1).await;
    assert_eq!(question(&http, &base, q6).await["status"], "asked");
}

#[tokio::test]
async fn a_pool_of_our_numbers_asks_one_person_several_questions_at_once() {
    let config = config()
        .replace("    number: \"+15550001111\"\n", "    number: \"+15550001111\"\n    numbers: [\"+15550002222\"]\n");
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    let base = h.serve_api().await;
    let http = reqwest::Client::new();
    let q1 = ask(&http, &base, json!({ "to": BOB, "text": "Q1: coming? yes/no", "timeout": 600 })).await;
    let q2 = ask(&http, &base, json!({ "to": BOB, "text": "Q2: bringing a guest? yes/no", "timeout": 600 })).await;
    let q3 = ask(&http, &base, json!({ "to": BOB, "text": "Q3: vegetarian? yes/no", "timeout": 600 })).await;
    until_q(&h, "two questions at once", |h| h.backend.sent().len() == 2).await;
    let sent = h.backend.sent();
    // The lowest-numbered free pair first.
    assert_eq!((sent[0].from.as_str(), sent[0].text.as_str()), ("+15550001111", "Q1: coming? yes/no"));
    assert_eq!((sent[1].from.as_str(), sent[1].text.as_str()), ("+15550002222", "Q2: bringing a guest? yes/no"));
    assert_eq!(question(&http, &base, q3).await["status"], "waiting");
    // Bob answers the second number's question: that one is answered, and Q3 takes its pair.
    let answer = sms_bridge::backend::ReceivedSms {
        from: BOB.into(),
        to: "+15550002222".into(),
        text: "no".into(),
        timestamp_ms: None,
    };
    h.backend.inject(answer).unwrap();
    until_q(&h, "the third question", |h| h.backend.sent().len() == 3).await;
    assert_eq!((question(&http, &base, q2).await["answer"].as_str()), Some("no"));
    assert_eq!(question(&http, &base, q1).await["status"], "asked");
    let third = &h.backend.sent()[2];
    assert_eq!((third.from.as_str(), third.text.as_str()), ("+15550002222", "Q3: vegetarian? yes/no"));
}

#[tokio::test]
async fn applications_and_services_do_not_wait_on_matrix_and_a_service_that_is_down_is_asked_again() {
    // The service is down at first: its port is reserved, nothing answers.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    // And another that stays down.
    let never = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let never_addr = never.local_addr().unwrap();
    drop((reserved, never));
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/cb", hook.local_addr().unwrap());
    let got = app_endpoint(hook);
    let extra = format!(
        "{}  webhooks:\n    - url: {hook_url}\nservices:\n  - keyword: hours\n    get-url: \"http://{addr}/hours?from=%p\"\n  - keyword: menu\n    get-url: \"http://{never_addr}/menu\"\n",
        config()
    );
    let h = Harness::new_with(Box::leak(extra.into_boxed_str())).await;
    // The homeserver is away too.
    h.matrix.set_down(true);
    h.inbound(BOB, "HOURS", None);
    for _ in 0..3 {
        let _ = h.bridge.drain_inbox().await;
        h.bridge.drain_service_calls().await.unwrap();
        h.bridge.drain_callbacks().await.unwrap();
    }
    // The application heard of the SMS while Matrix was away; the service was asked, and
    // failed for now: nothing given up.
    assert_eq!(got.all().len(), 1);
    let (state, attempts, error): (String, u32, String) = h
        .sql()
        .query_row("SELECT state, attempts, last_error FROM service_calls", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((state.as_str(), attempts), ("new", 1), "{error}");
    assert!(error.contains(&format!("GET http://{addr}/hours")) && !error.contains("from="), "{error}");

    // The service comes up, then Matrix: the reply goes out once, and the SMS is shown.
    let service = tokio::net::TcpListener::bind(addr).await.unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/hours",
        get(move || async move {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            "Open 9-17"
        }),
    );
    tokio::spawn(async move { axum::serve(service, app).await.unwrap() });
    h.sql().execute("UPDATE service_calls SET next_attempt_at = 0", []).unwrap();
    h.bridge.drain_service_calls().await.unwrap();
    h.matrix.set_down(false);
    h.run_apps_until("the reply sent and the SMS shown", |h| {
        h.backend.sent().iter().any(|s| s.text == "Open 9-17")
            && h.bridge
                .store
                .portal_by_pair(common::core::OUR_NUMBER, "15551234567")
                .unwrap()
                .and_then(|p| p.room_id)
                .is_some()
    })
    .await;
    h.make_due();
    h.settle().await;
    h.bridge.drain_service_calls().await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(h.backend.sent().len(), 1);
    let room = h.portal_room("15551234567");
    assert!(h.ghost_messages(&room, common::core::BOB_GHOST).iter().any(|e| e.content["body"] == "HOURS"));

    // A service that stays down is given up after three days, and the owner is told in
    // the portal, with the SMS.
    h.inbound(BOB, "menu", None);
    h.settle().await;
    h.bridge.drain_service_calls().await.unwrap();
    let state: String =
        h.sql().query_row("SELECT state FROM service_calls ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(state, "new", "asked again while within three days");
    h.sql().execute("UPDATE service_calls SET created_at = 0, next_attempt_at = 0 WHERE state = 'new'", []).unwrap();
    h.bridge.drain_service_calls().await.unwrap();
    h.settle().await;
    let state: String =
        h.sql().query_row("SELECT state FROM service_calls ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(state, "dead");
    let notices = h.notices(&room);
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with("⚠ The keyword service gave no reply") && n.ends_with("The SMS was:\nmenu")),
        "{notices:?}"
    );
    assert_eq!(h.backend.sent().len(), 1);
}

/// A webhook endpoint on its own port that answers `status` once `barrier` is passed (or
/// 500 after 5 s); returns its URL and how many calls it got.
async fn meeting_endpoint(
    barrier: Arc<tokio::sync::Barrier>,
    status: u16,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let (barrier, counted) = (barrier.clone(), counted.clone());
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                match tokio::time::timeout(Duration::from_secs(5), barrier.wait()).await {
                    Ok(_) => axum::http::StatusCode::from_u16(status).unwrap(),
                    Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

#[tokio::test]
async fn callbacks_to_different_targets_go_side_by_side_and_a_refusing_one_is_given_up() {
    // Each endpoint answers only once the other has been called too: called one after
    // the other, both would fail.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let (a, a_calls) = meeting_endpoint(barrier.clone(), 200).await;
    let (b, b_calls) = meeting_endpoint(barrier, 200).await;
    let hooks = format!("{}  webhooks:\n    - url: {a}\n    - url: {b}\n", config());
    let h = Harness::new_with(Box::leak(hooks.into_boxed_str())).await;
    h.inbound(BOB, "to both", None);
    h.settle().await;
    h.bridge.drain_callbacks().await.unwrap();
    let states: Vec<String> = h
        .sql()
        .prepare("SELECT state FROM callbacks ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(states, ["done", "done"]);
    assert_eq!(
        (a_calls.load(std::sync::atomic::Ordering::SeqCst), b_calls.load(std::sync::atomic::Ordering::SeqCst)),
        (1, 1)
    );

    // A target that answers 404 is a wrong URL: believed after five tries over an hour,
    // not three days. Meanwhile what comes later for it waits its turn.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wrong = format!("http://{}/nothing-here", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new()).await.unwrap() });
    let hooks = format!("{}  webhooks:\n    - url: {wrong}\n", config());
    let h = Harness::new_with(Box::leak(hooks.into_boxed_str())).await;
    h.inbound(BOB, "to a wrong URL", None);
    h.settle().await;
    let states = || -> Vec<(String, u32)> {
        h.sql()
            .prepare("SELECT state, attempts FROM callbacks ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    h.bridge.drain_callbacks().await.unwrap();
    h.inbound(BOB, "a later one", None);
    h.settle().await;
    h.bridge.drain_callbacks().await.unwrap();
    assert_eq!(states(), [("new".to_string(), 1), ("new".to_string(), 0)], "the later one waits behind the first");
    for attempt in 2..=5 {
        h.sql()
            .execute("UPDATE callbacks SET next_attempt_at = 0 WHERE id = (SELECT min(id) FROM callbacks)", [])
            .unwrap();
        h.bridge.drain_callbacks().await.unwrap();
        assert_eq!(states()[0], ("new".to_string(), attempt), "not believed within the hour");
    }
    h.sql().execute("UPDATE callbacks SET next_attempt_at = 0, created_at = created_at - 7200000", []).unwrap();
    h.bridge.drain_callbacks().await.unwrap();
    assert_eq!(states(), [("dead".to_string(), 6), ("new".to_string(), 1)]);
}

#[tokio::test]
async fn an_sms_that_came_in_before_the_question_is_not_its_answer() {
    let h = Harness::new_with(config()).await;
    let base = h.serve_api().await;
    let http = reqwest::Client::new();
    // Committed by the link, not yet handled, when the question is asked.
    h.inbound(BOB, "hi, unrelated", None);
    let q = ask(&http, &base, json!({ "to": BOB, "text": "Coming tonight?", "timeout": 600 })).await;
    h.bridge.drain_questions().await.unwrap();
    assert_eq!(question(&http, &base, q).await["status"], "asked");
    h.settle().await;
    assert_eq!(question(&http, &base, q).await["status"], "asked", "an older SMS answered it");
    h.inbound(BOB, "yes", None);
    h.settle().await;
    let v = question(&http, &base, q).await;
    assert_eq!((v["status"].as_str(), v["answer"].as_str()), (Some("answered"), Some("yes")), "{v}");
}
