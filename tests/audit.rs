//! The audit log (`audit:`): a record of every message in and out, delivery report and
//! policy refusal, checked against the traffic of a mixed run and through its CSV export
//! (column by column), the command line's `audit export` and the bot's `audit`.

mod common;

use std::process::Command;

use common::core::{ALICE, BOB, CONFIG, Harness, OUR_NUMBER, api_send, carol_management_room, db_path};
use sms_bridge::backend::DeliveryStatus;
use sms_bridge::store::{AuditQuery, CSV_HEADER, audit_csv};

const TOKEN: &str = "tok-0123456789abcdef";
const UK: &str = "+447700900123";
const OTHER: &str = "+15557654321";
/// A refusal's reason, as the CSV has it: a cell starting with `+` and not a number would be a formula.
const BLOCKED_CELL: &str = "'+447700900123 is in GB, which policy.countries.block lists";

/// A bridge that blocks GB, has an API user `app` and a `weather` keyword service.
fn config(audit: &str) -> &'static str {
    Box::leak(
        format!(
            "{CONFIG}policy:\n  countries:\n    block: [GB]\ngateway:\n  listen: 127.0.0.1:0\n  users:\n    - username: app\n      token: {TOKEN}\nservices:\n  - keyword: weather\n    catch_all: true\n    text: Sunny\naudit:\n{audit}"
        )
        .into_boxed_str(),
    )
}

/// Every record, as the CSV export writes them: the header, then one row of fields each.
fn export(h: &Harness) -> Vec<Vec<String>> {
    let q = AuditQuery { since: 0, until: i64::MAX, ..AuditQuery::default() };
    parse_csv(&audit_csv(&h.bridge.store.audit_records(&q).unwrap()))
}

/// RFC 4180, as a reader would take it apart (quoted fields may hold commas, quotes, line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "records end with CRLF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(row.is_empty() && field.is_empty(), "the last record ends with CRLF");
    rows
}

/// A CSV time: RFC 3339 in UTC, to the millisecond; as Unix ms.
fn csv_time(s: &str) -> i64 {
    assert!(s.ends_with('Z') && s.len() == 24, "{s:?}");
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// The columns of a row but its two times (checked apart).
fn columns(row: &[String]) -> Vec<&str> {
    assert_eq!(row.len(), CSV_HEADER.len(), "{row:?}");
    row.iter().enumerate().filter(|(i, _)| ![0, 12].contains(i)).map(|(_, f)| f.as_str()).collect()
}

#[tokio::test]
async fn the_log_matches_a_mixed_run_column_by_column() {
    let h = Harness::new_with(config("  store_text: true\n")).await;
    let base = h.serve_api().await;
    let t0 = sms_bridge::store::now_ms();

    // From Matrix, and from the API.
    let room = h.start_chat(BOB, "15551234567").await;
    let ev = h.say_text(ALICE, &room, "Hello Bob, \"quoted\"").await;
    let matrix_job = h.job(&ev).id;
    assert_eq!(api_send(&base, TOKEN, OTHER, "Hello from the API").await.0, 202);
    // An SMS a keyword service answers.
    h.inbound(BOB, "WEATHER tomorrow", None);
    h.run_apps_until("the keyword reply", |h| h.backend.sent().iter().any(|s| s.text == "Sunny")).await;
    let api_job = h.backend.sent().iter().find(|s| s.to == OTHER).unwrap().job_id;
    let reply_job = h.backend.sent().iter().find(|s| s.text == "Sunny").unwrap().job_id;
    // A delivery report for the Matrix message; the API's is still out.
    h.report(&format!("test-{matrix_job}"), DeliveryStatus::Delivered, &[]);
    h.settle().await;
    // Refused by policy, from Matrix and from the API.
    let uk_room = h.start_chat(UK, "447700900123").await;
    h.say_text(ALICE, &uk_room, "Hello London").await;
    assert_eq!(api_send(&base, TOKEN, UK, "Hello London from the API").await.0, 422);
    h.settle().await;

    let rows = export(&h);
    assert_eq!(rows[0], CSV_HEADER);
    let alice = format!("matrix:{ALICE}");
    let (m, a, r) = (format!("test-{matrix_job}"), format!("test-{api_job}"), format!("test-{reply_job}"));
    #[rustfmt::skip]
    let expected: Vec<Vec<&str>> = vec![
        // direction, kind, link, ours, theirs, by, keyword, parts, encoding, ids, status, reason, text
        vec!["out", "sms", "test1", OUR_NUMBER, BOB, &alice, "", "1", "gsm7", &m, "delivered", "", "Hello Bob, \"quoted\""],
        vec!["out", "sms", "test1", OUR_NUMBER, OTHER, "api:app", "", "1", "gsm7", &a, "sent", "", "Hello from the API"],
        vec!["in", "sms", "test1", OUR_NUMBER, BOB, "", "weather", "", "", "", "received", "", "WEATHER tomorrow"],
        vec!["out", "sms", "test1", OUR_NUMBER, BOB, "service:weather", "weather", "1", "gsm7", &r, "sent", "", "Sunny"],
        vec!["in", "report", "test1", OUR_NUMBER, BOB, "", "", "", "", &m, "delivered", "", ""],
        vec!["out", "sms", "test1", OUR_NUMBER, UK, &alice, "", "", "", "", "refused", BLOCKED_CELL, "Hello London"],
        vec!["out", "sms", "test1", OUR_NUMBER, UK, "api:app", "", "", "", "", "refused", BLOCKED_CELL, "Hello London from the API"],
    ];
    let got: Vec<Vec<&str>> = rows[1..].iter().map(|r| columns(r)).collect();
    assert_eq!(got, expected);
    // Times: in order, within the run; a final status no earlier than the record.
    let now = sms_bridge::store::now_ms();
    let mut last = t0 - 1000;
    for row in &rows[1..] {
        let (at, status_at) = (csv_time(&row[0]), csv_time(&row[12]));
        assert!(at >= last && at <= now, "{row:?}");
        assert!(status_at >= at && status_at <= now, "{row:?}");
        last = at;
    }
    // The message was delivered when its report, recorded on arrival, was handled.
    assert!(csv_time(&rows[1][12]) >= csv_time(&rows[5][0]) && csv_time(&rows[1][12]) > csv_time(&rows[4][12]));
}

#[tokio::test]
async fn text_is_stored_only_when_asked() {
    let h = Harness::new_with(config("  store_text: false\n")).await;
    let base = h.serve_api().await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.say_text(ALICE, &room, "private out").await;
    h.inbound(BOB, "private in", None);
    assert_eq!(api_send(&base, TOKEN, UK, "private refused").await.0, 422);
    h.settle().await;
    let rows = export(&h);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows[1..].iter().all(|r| r[14].is_empty()), "{rows:?}");
    let sql = h.sql();
    let texts: i64 = sql.query_row("SELECT count(*) FROM audit WHERE text IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(texts, 0);
}

#[tokio::test]
async fn retention_prunes_old_records_only() {
    let h = Harness::new_with(config("  retention_days: 30\n")).await;
    for text in ["old", "recent", "new"] {
        h.inbound(BOB, text, None);
    }
    h.settle().await;
    let sql = h.sql();
    let day = 86_400_000i64;
    sql.execute("UPDATE audit SET at = at - 31 * ?1 WHERE id = 1", [day]).unwrap();
    sql.execute("UPDATE audit SET at = at - 29 * ?1 WHERE id = 2", [day]).unwrap();
    assert_eq!(h.bridge.prune_audit().unwrap(), 1);
    let ids: Vec<i64> = sql
        .prepare("SELECT id FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, [2, 3]);

    // 0 keeps them for ever.
    let h = Harness::new_with(config("  retention_days: 0\n")).await;
    h.inbound(BOB, "ancient", None);
    h.settle().await;
    h.sql().execute("UPDATE audit SET at = at - 3650 * ?1", [day]).unwrap();
    assert_eq!(h.bridge.prune_audit().unwrap(), 0);
    assert_eq!(export(&h).len(), 2);
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sms-bridge")).args(args).output().unwrap()
}

#[tokio::test]
async fn the_command_line_exports_with_filters_and_hashed_numbers() {
    let h = Harness::new_with(config("  hash_numbers: true\n")).await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.say_text(ALICE, &room, "Hello Bob").await;
    h.inbound(BOB, "weather please", None);
    h.inbound(OTHER, "hello", None);
    h.run_apps_until("the keyword reply", |h| h.backend.sent().iter().any(|s| s.text == "Sunny")).await;

    let cfg = h.dir.path().join("config.yaml");
    let db = db_path(h.dir.path());
    let text = format!("{}database:\n  path: {}\n", config("  hash_numbers: true\n"), db.display());
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap();
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["audit", "export", "-c", cfg, "--since", &today, "--until", &today];
        args.extend_from_slice(extra);
        let o = cli(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        parse_csv(&String::from_utf8(o.stdout).unwrap())
    };

    let all = run(&[]);
    assert_eq!(all[0], CSV_HEADER);
    let by: Vec<(&str, &str, &str)> = all[1..].iter().map(|r| (r[1].as_str(), r[6].as_str(), r[7].as_str())).collect();
    let alice = format!("matrix:{ALICE}");
    assert_eq!(
        by,
        [("out", alice.as_str(), ""), ("in", "", "weather"), ("in", "", ""), ("out", "service:weather", "weather")]
    );
    // Numbers are hashed: none in clear, the same number the same way.
    for row in &all[1..] {
        for n in [&row[4], &row[5]] {
            // A hash: 24 hex digits (which may hold "555" by chance, never the number).
            let hex = n.strip_prefix("h:").unwrap_or_default();
            assert!(hex.len() == 24 && hex.chars().all(|c| c.is_ascii_hexdigit()), "{row:?}");
        }
    }
    assert_eq!(all[1][5], all[2][5]);
    assert_ne!(all[2][5], all[3][5]);
    assert!(all.iter().flatten().all(|f| !f.contains("5551234567") && !f.contains("5550001111")));
    // Filters: a number as a person types it, a keyword in any case.
    assert_eq!(run(&["--number", "+1 (555) 123-4567"])[1..], [all[1].clone(), all[2].clone(), all[4].clone()]);
    assert_eq!(run(&["--number", OTHER])[1..], [all[3].clone()]);
    assert_eq!(run(&["--keyword", "WEATHER"])[1..], [all[2].clone(), all[4].clone()]);
    assert_eq!(run(&["--keyword", "weather", "--number", OTHER]).len(), 1);
    // A period without records; a time with an offset.
    let tomorrow = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(24)).unwrap();
    let tomorrow = tomorrow.strftime("%Y-%m-%d").to_string();
    let o = cli(&["audit", "export", "-c", cfg, "--since", &tomorrow, "--until", &tomorrow]);
    assert_eq!(parse_csv(&String::from_utf8(o.stdout).unwrap()), [CSV_HEADER.to_vec()]);
    // A period that ends before it starts (until defaults to now).
    let o = cli(&["audit", "export", "-c", cfg, "--since", &tomorrow]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--until (now) is not after --since"), "{o:?}");
    let since = format!("{today}T00:00:00+00:00");
    assert_eq!(
        parse_csv(&String::from_utf8(cli(&["audit", "export", "-c", cfg, "--since", &since]).stdout).unwrap()),
        all
    );
    // To a file.
    let out = h.dir.path().join("audit.csv");
    let o = cli(&["audit", "export", "-c", cfg, "--since", &today, "--output", out.to_str().unwrap()]);
    assert!(o.status.success() && o.stdout.is_empty());
    assert_eq!(parse_csv(&std::fs::read_to_string(&out).unwrap()), all);
    // Mistakes are one line each.
    let o = cli(&["audit", "export", "-c", cfg, "--since", "last week"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("sms-bridge: --since: cannot read \"last week\""));
    let missing = h.dir.path().join("missing.yaml");
    let text = format!("{}database:\n  path: {}\n", CONFIG, h.dir.path().join("nowhere.db").display());
    std::fs::write(&missing, text).unwrap();
    let o = cli(&["audit", "export", "-c", missing.to_str().unwrap(), "--since", &today]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nowhere.db: not found"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!h.dir.path().join("nowhere.db").exists());
}

#[tokio::test]
async fn admins_get_the_log_as_a_file_in_their_management_room() {
    let h = Harness::new_with(config("  store_text: true\n")).await;
    let room = h.start_chat(BOB, "15551234567").await;
    h.say_text(ALICE, &room, "Hello Bob").await;
    h.inbound(OTHER, "hi", None);
    h.settle().await;
    let expected = {
        let q = AuditQuery { since: 0, until: i64::MAX, ..AuditQuery::default() };
        audit_csv(&h.bridge.store.audit_records(&q).unwrap())
    };

    h.say_text(ALICE, &h.mgmt, "audit").await;
    h.settle().await;
    let uploads = h.matrix.uploads();
    let upload = uploads.iter().find(|u| u.content_type == "text/csv").expect("an upload");
    assert_eq!(String::from_utf8(upload.data.clone()).unwrap(), expected);
    assert_eq!(parse_csv(&expected).len(), 3);
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let week_ago =
        jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(7 * 24)).unwrap().strftime("%Y-%m-%d");
    assert_eq!(upload.filename, format!("audit-{week_ago}-{today}.csv"));
    let files: Vec<_> = h
        .matrix
        .events_in(&h.mgmt)
        .into_iter()
        .filter(|e| e.event_type == "m.room.message" && e.content["msgtype"] == "m.file")
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].content["url"], upload.mxc.as_str());
    assert_eq!(files[0].content["body"], upload.filename.as_str());
    assert_eq!(files[0].content["info"]["size"], upload.data.len());
    assert_eq!(
        h.notices(&h.mgmt).pop().unwrap(),
        format!("Audit log {week_ago} to {today}: 2 records, in {}.", upload.filename)
    );

    // Filtered by number, as a person types it.
    h.say_text(ALICE, &h.mgmt, &format!("audit {today} {today} (555) 765-4321")).await;
    h.settle().await;
    let uploads = h.matrix.uploads();
    let rows = parse_csv(&String::from_utf8(uploads.last().unwrap().data.clone()).unwrap());
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1][5].as_str(), rows[1][14].as_str()), (OTHER, "hi"));

    // Not for plain users.
    let carol = carol_management_room(&h).await;
    h.say_text(common::core::CAROL, &carol, "audit").await;
    h.settle().await;
    assert_eq!(h.notices(&carol).pop().unwrap(), "Only bridge admins can export the audit log.");
    assert_eq!(h.matrix.uploads().len(), 2);
}

#[tokio::test]
async fn a_question_is_recorded_as_sent_by_its_application() {
    let h = Harness::new_with(config("  store_text: true\n")).await;
    let user = h.bridge.config.gateway.as_ref().unwrap().users[0].clone();
    let timeout = std::time::Duration::from_secs(600);
    h.bridge.ask(&user, None, OTHER, "Coming tonight?", timeout, None).unwrap();
    h.bridge.drain_questions().await.unwrap();
    h.settle().await;
    assert_eq!(h.backend.sent().iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["Coming tonight?"]);
    let all = export(&h);
    let row = all.iter().find(|r| r[14] == "Coming tonight?").expect("the question's record");
    let (direction, their, by, status) = (&row[1], &row[5], &row[6], &row[11]);
    assert_eq!((direction.as_str(), their.as_str(), by.as_str(), status.as_str()), ("out", OTHER, "api:app", "sent"));
}
