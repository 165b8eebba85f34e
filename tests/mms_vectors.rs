//! The MMS codec against the shared python-messaging vectors (`../shared/testdata`, read in
//! place, never copied): every expectation of the 13 MMS files, the m-notifyresp-ind encode
//! vector, and the WAP push SMS pairs decoded all the way from the SMS PDUs. The
//! `decode` tool is checked on the same files. Without the shared folder they are skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sms_bridge::mms::{self, describe, push};
use sms_bridge::sms::tpdu::{self, Tpdu};

fn json_file(dir: &Path, name: &str) -> Vec<Value> {
    let p = dir.join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    tpdu::from_hex(s).unwrap()
}

/// Checks one decoded message (as the `decode mms` JSON) against an `expect` object.
fn check(mms_dir: &Path, file: &str, ours: &Value, expect: &Value, not_in_bytes: &[Value]) -> usize {
    let mut checks = 0;
    for (key, want) in expect.as_object().unwrap() {
        let got = match key.as_str() {
            "parts" | "parts_count" => continue,
            // python-messaging's placeholder for Insert-address-token.
            "from" if want == "<not inserted>" => {
                assert_eq!(ours["from"], Value::Null, "{file}: from");
                assert_eq!(ours["from_insert_address"], true, "{file}: from_insert_address");
                checks += 1;
                continue;
            }
            // X-Mms-Read-Reply (1.0) is X-Mms-Read-Report (1.1 on): the same octet.
            "read_reply" => &ours["read_report"],
            "message_type"
            | "transaction_id"
            | "mms_version"
            | "date"
            | "from"
            | "to"
            | "subject"
            | "message_class"
            | "priority"
            | "sender_visibility"
            | "delivery_report"
            | "content_type"
            | "content_type_params"
            | "message_size"
            | "content_location" => &ours[key.as_str()],
            "expiry" => {
                let want = json!({ "relative": want["relative_seconds"] });
                assert_eq!(ours["expiry"], want, "{file}: expiry");
                checks += 1;
                continue;
            }
            other => panic!("{file}: expectation {other} is not checked by this test"),
        };
        if not_in_bytes.iter().any(|k| k == key) {
            // Upstream asserted its own default; the file has no such header.
            assert_eq!(got, &Value::Null, "{file}: {key} is not in the bytes");
        } else {
            assert_eq!(got, want, "{file}: {key}");
        }
        checks += 1;
    }
    if let Some(n) = expect.get("parts_count") {
        assert_eq!(ours["parts"].as_array().unwrap().len() as u64, n.as_u64().unwrap(), "{file}: parts_count");
        checks += 1;
    }
    for p in expect["parts"].as_array().into_iter().flatten() {
        let i = p["index"].as_u64().unwrap() as usize;
        let part = &ours["parts"][i];
        for (key, want) in p.as_object().unwrap() {
            match key.as_str() {
                "index" | "note" => continue,
                "content_type" | "params" | "text" => assert_eq!(&part[key.as_str()], want, "{file}: part {i} {key}"),
                "data_hex" => {
                    let bytes = mms::decode(&std::fs::read(mms_dir.join(file)).unwrap()).unwrap().parts[i].data.clone();
                    assert_eq!(hex(&bytes), want.as_str().unwrap(), "{file}: part {i} data");
                }
                other => panic!("{file}: part expectation {other} is not checked by this test"),
            }
            checks += 1;
        }
    }
    checks
}

#[test]
fn every_expectation_of_the_shared_mms_files_holds() {
    let Some(dir) = common::testdata::dir("mms") else { return };
    let entries = json_file(&dir, "expected.json");
    assert_eq!(entries.len(), 12);
    let mut checks = 0;
    for e in &entries {
        let file = e["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        assert_eq!(bytes.len() as u64, e["size"].as_u64().unwrap(), "{file}: size");
        let sha = ring::digest::digest(&ring::digest::SHA256, &bytes);
        assert_eq!(hex(sha.as_ref()), e["sha256"].as_str().unwrap(), "{file}: sha256");
        let m = mms::decode(&bytes).unwrap_or_else(|err| panic!("{file}: {err}"));
        let not_in_bytes = e["not_in_bytes"].as_array().cloned().unwrap_or_default();
        checks += check(&dir, file, &describe::message(&m), &e["expect"], &not_in_bytes);
        // Re-encoding what we decoded gives the same message back.
        let again = mms::decode(&mms::encode(&m).unwrap()).unwrap();
        assert_eq!(describe::message(&again)["parts"], describe::message(&m)["parts"], "{file}: re-encoded parts");
        assert_eq!(again.subject, m.subject, "{file}: re-encoded subject");
    }
    assert!(checks > 150, "only {checks} checks ran");
}

#[test]
fn notifyresp_matches_the_encode_vector() {
    let Some(dir) = common::testdata::dir("mms") else { return };
    for v in json_file(&dir, "encode_vectors.json") {
        let input = &v["input"];
        assert_eq!(input["message_type"], "m-notifyresp-ind");
        assert_eq!(input["status"], "Retrieved");
        let ours = mms::encode::notifyresp_ind(input["transaction_id"].as_str().unwrap(), (1, 0), 0x81).unwrap();
        // Bytes 0..45 are the whole m-notifyresp-ind; upstream appends a body it shouldn't.
        let want = &v["expected_prefix_hex"].as_str().unwrap()[..90];
        assert_eq!(hex(&ours), want);
    }
}

/// The user data of a port-2948 SMS pair, joined in sequence order as the bridge does.
fn push_payload_from_sms(pdus: &[Value]) -> Vec<u8> {
    let mut parts: Vec<(u8, Vec<u8>)> = pdus
        .iter()
        .map(|p| {
            let bytes = unhex(p["pdu_hex"].as_str().unwrap());
            let pdu = tpdu::decode(&bytes, true).unwrap();
            let Tpdu::Deliver(d) = pdu.tpdu else { panic!("not a deliver") };
            let udh = d.user_data.udh.expect("a UDH");
            assert_eq!(udh.ports().expect("ports").dst, 2948);
            (udh.concat().expect("concat").seq, d.user_data.payload)
        })
        .collect();
    parts.sort_by_key(|p| p.0);
    parts.into_iter().flat_map(|p| p.1).collect()
}

#[test]
fn wap_push_sms_vectors_decode_to_their_notifications() {
    let Some(sms_dir) = common::testdata::dir("sms") else { return };
    let Some(mms_dir) = common::testdata::dir("mms") else { return };
    let vectors = json_file(&sms_dir, "vectors.json");
    let mut seen = 0;
    for v in vectors.iter().filter(|v| v["kind"] == "wap-push-sms") {
        let id = v["id"].as_str().unwrap();
        let payload = push_payload_from_sms(v["pdus"].as_array().unwrap());
        let want_payload = v["from_bytes"]["payload_hex"].as_str().or(v["expect"]["payload_hex"].as_str()).unwrap();
        assert_eq!(hex(&payload), want_payload, "{id}: payload");
        let p = push::decode(&payload).unwrap_or_else(|e| panic!("{id}: {e}"));
        let want = &v["expect"]["push"];
        assert_eq!(p.is_mms(), want["is_mms_notification"].as_bool().unwrap(), "{id}: is MMS");
        if p.is_mms() {
            assert_eq!(p.application_id(), Some("x-wap-application:mms.ua"));
            let m = mms::decode(&p.body).unwrap();
            check(&mms_dir, id, &describe::message(&m), &want["mms"], &[]);
        } else {
            assert_eq!(p.content_type.media, "application/vnd.wap.sic", "{id}");
        }
        seen += 1;
    }
    assert_eq!(seen, 3);
    for v in vectors.iter().filter(|v| v["kind"] == "wsp-push-payload") {
        let bytes = unhex(v["payload_hex"].as_str().unwrap());
        let not_push = push::decode(&bytes).is_err_and(|e| e.problem.contains("not a push"));
        // A push cut short may be refused, but never as "not a push".
        assert_eq!(!not_push, v["expect"]["is_wap_push"].as_bool().unwrap(), "{}", v["id"]);
    }
}

fn bridge_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sms-bridge")).args(args).output().unwrap()
}

#[test]
fn decode_tool_prints_the_same_json_and_refuses_bad_input_in_one_line() {
    let Some(mms_dir) = common::testdata::dir("mms") else { return };
    let Some(sms_dir) = common::testdata::dir("sms") else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&mms_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("mms")))
        .collect();
    files.sort();
    assert_eq!(files.len(), 13);
    for f in &files {
        let out = bridge_cli(&["decode", "mms", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours = describe::message(&mms::decode(&std::fs::read(f).unwrap()).unwrap());
        assert_eq!(printed, ours, "{}", f.display());
        for p in printed["parts"].as_array().unwrap() {
            assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
        }
    }
    // Truncated: exit 1 and one line naming what and where.
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.mms");
    let whole = std::fs::read(mms_dir.join("m.mms")).unwrap();
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let out = bridge_cli(&["decode", "mms", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("part") && err.contains("at byte"), "{err}");

    let notification = json_file(&sms_dir, "vectors.json")
        .into_iter()
        .find(|v| v["id"] == "test_decoding_m_notification_ind.1")
        .unwrap()["from_bytes"]["payload_hex"]
        .as_str()
        .unwrap()
        .to_string();
    let out = bridge_cli(&["decode", "wap-push", &notification]);
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["transaction_id"], 1);
    assert_eq!(printed["pdu_type"], 6);
    assert_eq!(printed["content_type"], "application/vnd.wap.mms-message");
    assert_eq!(printed["application_id"], "x-wap-application:mms.ua");
    assert_eq!(printed["mms"]["message_type"], "m-notification-ind");
    assert_eq!(printed["mms"]["content_location"], "http://promms/servlets/NOK5CiKcoTMYSG4MBSwAAsKv14FUHAAAAAAAA");
    let out = bridge_cli(&["decode", "wap-push", "0405395c2d"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
}
