//! Our MMS codec against python-messaging (PyPI, in a test-managed virtualenv): what it
//! encodes, we decode; what we encode (m-send-req), it decodes with the same headers and
//! parts; and on the 13 shared MMS files both decoders find the same parts and bytes.

mod common;

use common::pymessaging::{PyMessaging, from_hex};
use serde_json::{Value, json};
use sms_bridge::mms::{self, Attachment};

/// Lower-case hex, as the driver writes it.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn py() -> &'static PyMessaging {
    PyMessaging::get()
}

/// Bytes that look like nothing in particular, including NULs and 0xFF.
fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn messages_python_messaging_encodes_decode_in_ours() {
    for (i, slides) in [1usize, 2, 3].iter().enumerate() {
        let mut req_slides = Vec::new();
        let mut want = Vec::new();
        for s in 0..*slides {
            let image = noise((i * 10 + s) as u32, 500 + 700 * s);
            let audio = noise((i * 10 + s + 100) as u32, 300);
            let text = format!("slide {s} of message {i}");
            req_slides.push(json!({
                "image": { "content_type": "image/jpeg", "data_hex": to_hex(&image), "location": format!("img{s}.jpg") },
                "audio": { "content_type": "audio/amr", "data_hex": to_hex(&audio), "location": format!("snd{s}.amr") },
                "text": text,
            }));
            want.push(("image/jpeg", image, Some(format!("img{s}.jpg"))));
            want.push(("audio/amr", audio, Some(format!("snd{s}.amr"))));
            want.push(("text/plain", text.into_bytes(), None));
        }
        let encoded = py().call_ok(json!({
            "op": "mms_encode", "transaction_id": format!("tx-{i}"), "to": "+15551234567/TYPE=PLMN",
            "from": "+15550001111/TYPE=PLMN", "subject": format!("Subject {i}"), "slides": req_slides,
        }));
        let bytes = from_hex(encoded["hex"].as_str().unwrap());
        let m = mms::decode(&bytes).unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(m.message_type, mms::MessageType::SEND_REQ);
        assert_eq!(m.transaction_id.as_deref(), Some(format!("tx-{i}").as_str()));
        assert_eq!(m.version, Some((1, 0)));
        assert_eq!(m.to, ["+15551234567/TYPE=PLMN"]);
        assert_eq!(m.from, Some(mms::From::Address("+15550001111/TYPE=PLMN".into())));
        assert_eq!(m.subject.as_deref(), Some(format!("Subject {i}").as_str()));
        assert_eq!(m.content_type.as_ref().unwrap().media, "application/vnd.wap.multipart.related");
        // Upstream puts its SMIL first, with Content-ID as an application header.
        assert_eq!(m.parts[0].content_type.media, "application/smil");
        assert_eq!(m.parts[0].headers.content_id.as_deref(), Some("<0000>"));
        assert!(m.parts[0].text().unwrap().text.contains("<smil>"));
        let got: Vec<_> = m.parts[1..]
            .iter()
            .map(|p| (p.content_type.media.as_str(), p.data.clone(), p.headers.content_location.clone()))
            .collect();
        assert_eq!(got, want, "message {i}");
    }
}

#[test]
fn our_send_req_decodes_in_python_messaging() {
    let jpeg = noise(7, 4000);
    let amr = noise(8, 900);
    let m = mms::send_req(
        "T0001",
        &["+15551234567".into(), "+447700900123".into()],
        Some("Holiday"),
        Some("Look at this!"),
        &[
            Attachment { content_type: "image/jpeg".into(), filename: "beach.jpg".into(), data: jpeg.clone() },
            Attachment { content_type: "audio/amr".into(), filename: "waves.amr".into(), data: amr.clone() },
        ],
    );
    let bytes = mms::encode(&m).unwrap();
    let theirs = py().call_ok(json!({ "op": "mms_decode", "hex": to_hex(&bytes) }));
    let h = &theirs["headers"];
    assert_eq!(h["Message-Type"], "m-send-req");
    assert_eq!(h["Transaction-Id"], "T0001");
    assert_eq!(h["MMS-Version"], "1.2");
    assert_eq!(h["Subject"], "Holiday");
    assert_eq!(h["From"], "<not inserted>");
    assert_eq!(h["Message-Class"], "Personal");
    // Upstream keeps only the last of repeated headers.
    assert_eq!(h["To"], "+447700900123/TYPE=PLMN");
    assert_eq!(
        h["Content-Type"],
        json!(["application/vnd.wap.multipart.related", {"Type": "application/smil", "Start": "<smil>"}])
    );
    let parts = theirs["parts"].as_array().unwrap();
    let summary: Vec<(String, Value, String)> = parts
        .iter()
        .map(|p| {
            (
                p["content_type"].as_str().unwrap().to_string(),
                p["params"].clone(),
                p["data_hex"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("application/smil".to_string(), json!({"Charset": "utf-8"}), to_hex(&m.parts[0].data)),
            ("image/jpeg".to_string(), json!({"Name": "beach.jpg"}), to_hex(&jpeg)),
            ("audio/amr".to_string(), json!({"Name": "waves.amr"}), to_hex(&amr)),
            ("text/plain".to_string(), json!({"Charset": "utf-8"}), to_hex(b"Look at this!")),
        ]
    );
    // Upstream misreads a well-known Content-ID (0xC0 + quoted string) the same way in the
    // phone-made files (27d0….mms gives {"\"": "Rain.wbmp>"}); the value must still be ours.
    let headers = parts[1]["headers"].as_object().unwrap();
    assert!(headers.values().any(|v| v.as_str().is_some_and(|v| v.ends_with("beach.jpg>"))), "{headers:?}");
}

#[test]
fn both_decoders_agree_on_the_shared_files() {
    let Some(dir) = common::testdata::dir("mms") else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("mms")));
    files.sort();
    assert_eq!(files.len(), 13);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let ours = mms::decode(&bytes).unwrap();
        let theirs = py().call_ok(json!({ "op": "mms_decode", "hex": to_hex(&bytes) }));
        let name = f.file_name().unwrap().to_string_lossy();
        assert_eq!(theirs["headers"]["Message-Type"], ours.message_type.name(), "{name}");
        assert_eq!(theirs["headers"]["Subject"].as_str(), ours.subject.as_deref(), "{name}");
        let parts = theirs["parts"].as_array().unwrap();
        assert_eq!(parts.len(), ours.parts.len(), "{name}: part count");
        for (i, (t, o)) in parts.iter().zip(&ours.parts).enumerate() {
            assert_eq!(t["content_type"], o.content_type.media, "{name} part {i}");
            assert_eq!(t["data_hex"].as_str().unwrap(), to_hex(&o.data), "{name} part {i} data");
        }
    }
}
