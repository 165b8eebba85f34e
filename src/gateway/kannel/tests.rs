use super::*;

fn ok(q: &str) -> SendSms {
    parse_sendsms(q.as_bytes()).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn err(q: &[u8]) -> (u16, String) {
    parse_sendsms(q).expect_err("should be refused").answer()
}

fn text(s: &SendSms) -> &str {
    match &s.payload {
        Payload::Text(t) => t,
        Payload::Binary(b) => panic!("binary {b:?}"),
    }
}

// --- sendsms -----------------------------------------------------------------

#[test]
fn tutorial_emoji_is_utf16be() {
    let s = ok("username=&password=&to=1234567&coding=2&text=%D8%3D%DE%00");
    assert_eq!(text(&s), "😀");
    assert_eq!((s.user.as_str(), s.password.as_str()), ("", ""));
    assert_eq!(s.recipients, ["1234567"]);
    assert_eq!(s.coding, Coding::Ucs2);
}

#[test]
fn plain_text_defaults_to_utf8_and_7bit() {
    let s = ok("user=u&pass=p&to=%2B4915112345678&from=Shop&text=Gr%C3%BC%C3%9Fe+aus+K%C3%B6ln%21");
    assert_eq!(text(&s), "Grüße aus Köln!");
    assert_eq!(s.coding, Coding::SevenBit);
    assert_eq!(s.recipients, ["+4915112345678"]);
    assert_eq!(s.from.as_deref(), Some("Shop"));
    assert_eq!((s.user.as_str(), s.password.as_str()), ("u", "p"));
}

#[test]
fn username_wins_over_user_and_first_value_wins() {
    let s = ok("user=a&username=b&pass=x&password=y&to=1&to=2&text=t");
    assert_eq!((s.user.as_str(), s.password.as_str()), ("b", "y"));
    assert_eq!(s.recipients, ["1"]);
}

#[test]
fn charsets_convert() {
    let s = ok("username=u&password=p&to=1&charset=ISO-8859-1&text=caf%E9");
    assert_eq!(text(&s), "café");
    let s = ok("username=u&password=p&to=1&charset=windows-1251&text=%CF%F0%E8%E2%E5%F2");
    assert_eq!(text(&s), "Привет");
    // UCS-2 with a charset: converted from it (PHP's iconv 'ucs-2' writes little-endian).
    let s = ok("username=u&password=p&to=1&coding=2&charset=UCS-2&text=%60O%7DY");
    assert_eq!(text(&s), "你好");
    let s = ok("username=u&password=p&to=1&coding=2&charset=UTF-8&text=%E4%BD%A0%E5%A5%BD");
    assert_eq!(text(&s), "你好");
    // A named UTF-16 honours its BOM; BOM-less UTF-16 is big-endian, as in iconv.
    let s = ok("username=u&password=p&to=1&coding=2&charset=UTF-16&text=%FF%FEA%00");
    assert_eq!(text(&s), "A");
    let s = ok("username=u&password=p&to=1&coding=2&charset=utf-16&text=%00A");
    assert_eq!(text(&s), "A");
}

#[test]
fn bad_charset_or_body_is_refused() {
    let line = (400, "Charset or body misformed, rejected".to_owned());
    assert_eq!(err(b"username=u&password=p&to=1&charset=klingon&text=x"), line);
    assert_eq!(err(b"username=u&password=p&to=1&charset=ISO-2022-KR&text=x"), line);
    assert_eq!(err(b"username=u&password=p&to=1&text=caf%E9"), line, "Latin-1 without charset");
    assert_eq!(err(b"username=u&password=p&to=1&coding=2&text=%D8%3D"), line, "lone surrogate");
    assert_eq!(err(b"username=u&password=p&to=1&coding=2&text=%00A%00"), line, "odd length");
}

#[test]
fn eight_bit_is_raw_whatever_the_charset() {
    let s = ok("username=u&password=p&to=1&coding=1&charset=UTF-8&text=%00%FF%80");
    assert_eq!(s.payload, Payload::Binary(vec![0, 0xff, 0x80]));
}

#[test]
fn several_recipients() {
    let s = ok("username=u&password=p&to=111+222%20333%09%2B444+111&text=hi");
    assert_eq!(s.recipients, ["111", "222", "333", "+444"], "split at whitespace, once each");
    assert!(s.denied.is_empty());
    let s = ok("username=u&password=p&to=111+abc+22-33&text=hi");
    assert_eq!((s.recipients, s.denied), (vec!["111".into(), "22-33".into()], vec!["abc".to_owned()]));
}

#[test]
fn receiver_errors() {
    assert_eq!(err(b"username=u&password=p&text=hi"), (400, "Missing receiver number, rejected".into()));
    assert_eq!(err(b"username=u&password=p&to=&text=hi"), (400, "Empty receiver number not allowed, rejected".into()));
    let denied = (400, "Number(s) has/have been denied by white- and/or black-lists.".to_owned());
    assert_eq!(err(b"username=u&password=p&to=+++&text=hi"), denied);
    assert_eq!(err(b"username=u&password=p&to=alice&text=hi"), denied);
}

#[test]
fn missing_credentials_are_403_before_anything_else() {
    let auth = (403, "Authorization failed for sendsms".to_owned());
    assert_eq!(err(b"password=p&to=1&text=hi"), auth);
    assert_eq!(err(b"username=u&to=1&text=hi"), auth);
    assert_eq!(err(b"username=u&password=p%FF&coding=9"), auth, "a password that is not text matches no user");
    assert_eq!(err(b""), auth);
    assert_eq!(SendsmsError::Authorization.answer(), auth);
}

#[test]
fn missing_text_is_an_empty_message_as_in_kannel() {
    let s = ok("username=u&password=p&to=1");
    assert_eq!(s.payload, Payload::Text(String::new()));
}

#[test]
fn udh_bytes_are_kept_and_imply_8bit() {
    // Port addressing 16-bit: destination 2948, origin 9200.
    let s = ok("username=u&password=p&to=1&udh=%06%05%04%0B%84%23%F0&text=%01%02%FF");
    assert_eq!(s.udh, [6, 5, 4, 0x0b, 0x84, 0x23, 0xf0]);
    assert_eq!(s.coding, Coding::EightBit);
    assert_eq!(s.payload, Payload::Binary(vec![1, 2, 0xff]));
    assert_eq!(err(b"username=u&password=p&to=1&udh=%06%05"), (400, "UDH field misformed, rejected".into()));
    let long = format!("username=u&password=p&to=1&udh=%FF{}", "%00".repeat(255));
    assert_eq!(err(long.as_bytes()), (400, "UDH field is too long, rejected".into()));
}

#[test]
fn options_are_read() {
    let s = ok("username=u&password=p&to=1&text=x&smsc=modem1&mclass=0&validity=1440&deferred=10\
                &dlr-mask=31&dlr-url=http%3A%2F%2Fapp%2Fdlr%3Fs%3D%25d&account=acme&binfo=b1&priority=3\
                &pid=64&mwi=4&alt-dcs=1&rpi=1&compress=0");
    assert_eq!(s.smsc.as_deref(), Some("modem1"));
    assert_eq!((s.mclass, s.validity_minutes, s.deferred_minutes), (Some(0), Some(1440), Some(10)));
    assert_eq!((s.dlr_mask, s.dlr_url.as_deref()), (Some(31), Some("http://app/dlr?s=%d")));
    assert_eq!((s.account.as_deref(), s.binfo.as_deref(), s.priority), (Some("acme"), Some("b1"), Some(3)));
    assert_eq!((s.pid, s.mwi, s.alt_dcs, s.rpi, s.compress), (Some(64), Some(4), Some(true), Some(1), Some(false)));
    // The old spellings, empty values and Kannel's "undefined" -1.
    let s = ok("username=u&password=p&to=1&dlrmask=3&dlrurl=https://x/y&mclass=&validity=-1&from=&smsc=");
    assert_eq!((s.dlr_mask, s.dlr_url.as_deref()), (Some(3), Some("https://x/y")));
    assert_eq!((s.mclass, s.validity_minutes, s.from, s.smsc), (None, None, None, None));
}

#[test]
fn field_errors_use_kannels_lines() {
    let cases: &[(&str, &str)] = &[
        ("coding=3", "Coding field misformed, rejected"),
        ("coding=abc", "Coding field misformed, rejected"),
        ("coding=1x", "Coding field misformed, rejected"),
        ("mclass=4", "MClass field misformed, rejected"),
        ("dlr-mask=32", "DLR-Mask field misformed, rejected"),
        ("dlr-url=ftp%3A%2F%2Fx", "DLR-URL field misformed, rejected"),
        ("dlr-url=http%3A", "DLR-URL field misformed, rejected"),
        ("validity=-2", "Validity field misformed, rejected"),
        ("validity=99999999999999999999999", "Validity field misformed, rejected"),
        ("deferred=x", "Deferred field misformed, rejected"),
        ("priority=4", "Priority field misformed, rejected"),
        ("pid=256", "PID field misformed, rejected"),
        ("rpi=3", "RPI field misformed, rejected"),
        ("alt-dcs=2", "Alt-DCS field misformed, rejected"),
        ("mwi=8", "MWI field misformed, rejected"),
        ("compress=2", "Compress field misformed, rejected"),
        ("account=a%5Bb", "Account field misformed or too long, rejected"),
        ("from=%FF", "From field misformed, rejected"),
    ];
    for (param, line) in cases {
        let q = format!("username=u&password=p&to=1&text=x&{param}");
        assert_eq!(err(q.as_bytes()), (400, (*line).to_owned()), "{param}");
    }
    let long_account = format!("username=u&password=p&to=1&account={}", "a".repeat(65));
    assert_eq!(err(long_account.as_bytes()).1, "Account field misformed or too long, rejected");
}

#[test]
fn hostile_input_is_refused_not_panicked_on() {
    let bad = (400, "Malformed URL encoding, rejected".to_owned());
    assert_eq!(err(b"username=u&password=p&to=1&text=%G1"), bad);
    assert_eq!(err(b"username=u&password=p&to=1&text=%"), bad);
    assert_eq!(err(b"username=u&password=p&to=1&text=%4"), bad);
    assert_eq!(err(b"%zz=u"), bad);
    // Huge values go through in linear time.
    let huge = format!("username=u&password=p&to={}&text={}", "1+".repeat(50_000), "%41".repeat(200_000));
    let s = ok(&huge);
    assert_eq!((s.recipients.len(), text(&s).len()), (1, 200_000));
    let many: Vec<String> = (0..50_000).map(|n| n.to_string()).collect();
    let s = ok(&format!("username=u&password=p&to={}", many.join("+")));
    assert_eq!(s.recipients, many);
    for q in [&b"&&&=&=="[..], b"username", b"=====", b"\xff\xfe&username=\xff", b"to=%00&username=&password="] {
        let _ = parse_sendsms(q);
    }
}

#[test]
fn answers() {
    assert_eq!(accepted_answer(false, 3), (202, "0: Accepted for delivery".into()));
    assert_eq!(accepted_answer(true, 1), (202, "3: Queued for later delivery".into()));
    assert_eq!(SendsmsError::SenderMissing.answer(), (400, "Sender missing and no global set, rejected".into()));
    assert_eq!(SendsmsError::NotRoutable.answer(), (403, "Not routable. Do not try again.".into()));
    assert_eq!(SendsmsError::TemporaryFailure.answer(), (503, "Temporal failure, try again later.".into()));
    let one = SendsmsError::SendingFailed { failed: vec!["1".into()], n_recipients: 1 };
    assert_eq!(one.answer(), (500, "Sending failed.".into()));
    let some = SendsmsError::SendingFailed { failed: vec!["1".into(), "3".into()], n_recipients: 3 };
    assert_eq!(some.answer(), (500, "Sending failed. Failed receivers are: 1 3".into()));
    assert_eq!(SendsmsError::Unsupported("Compress").answer(), (400, "Compress field not supported, rejected".into()));
}

// --- form coding ---------------------------------------------------------------

#[test]
fn form_keeps_raw_bytes() {
    let pairs = parse_form(b"a=%00%FF+%2B&b&=c&&d=").unwrap();
    let want: Vec<Pair> = vec![
        (b"a".to_vec(), vec![0, 0xff, b' ', b'+']),
        (b"b".to_vec(), vec![]),
        (vec![], b"c".to_vec()),
        (b"d".to_vec(), vec![]),
    ];
    assert_eq!(pairs, want);
    assert_eq!(parse_form(b"ok=1&x=%4g"), Err(FormError::BadEscape(7)));
}

#[test]
fn url_encode_like_kannel() {
    assert_eq!(url_encode(b"a b+c/d?e=f&g%h"), "a+b%2Bc%2Fd%3Fe%3Df%26g%25h");
    assert_eq!(url_encode(b"-_.!~*'()"), "-_.!~*'()");
    assert_eq!(url_encode("é".as_bytes()), "%C3%A9");
}

// --- DLR -----------------------------------------------------------------------

fn report() -> Dlr {
    Dlr {
        kind: dlr_mask::DELIVERED,
        receiver: "+4915112345678".into(),
        sender: "0049301234".into(),
        timestamp: 1_700_000_000,
        smsc_id: "smpp 1".into(),
        message_id: "7d1f0b8e-6f2a-4c1e-9a57-3b1e0f6a9c11".into(),
        foreign_id: "0A1B2C".into(),
        answer: "id:0A1B2C sub:001 dlvrd:001 stat:DELIVRD err:000 text:h*i".into(),
        failure_code: Some("000".into()),
        service: "app user".into(),
        account: Some("acme".into()),
    }
}

#[test]
fn dlr_escapes() {
    let d = report();
    let cases: &[(&str, &str)] = &[
        ("%d", "1"),
        ("%p", "%2B4915112345678"),
        ("%P", "0049301234"),
        ("%q", "%2B4915112345678"),
        ("%Q", "%2B49301234"),
        ("%t", "2023-11-14+22:13:20"),
        ("%T", "1700000000"),
        ("%A", "id%3A0A1B2C+sub%3A001+dlvrd%3A001+stat%3ADELIVRD+err%3A000+text%3Ah*i"),
        ("%i", "smpp+1"),
        ("%I", "7d1f0b8e-6f2a-4c1e-9a57-3b1e0f6a9c11"),
        ("%F", "0A1B2C"),
        ("%B", "000"),
        ("%n", "app+user"),
        ("%o", "acme"),
        ("%k", "id%3A0A1B2C"),
        ("%s/%s/%r", "sub%3A001/dlvrd%3A001/stat%3ADELIVRD+err%3A000+text%3Ah*i"),
        ("%S%S%S%S%S", "sub:001dlvrd:001stat:DELIVRDerr:000text:h~i"),
        ("%c%C%m%M%u", ""),
        ("100%%", "100%"),
        ("%z%", "%z%"),
        ("%é", "%é"),
    ];
    for (template, want) in cases {
        assert_eq!(expand_dlr_url(template, &d), *want, "{template}");
    }
}

#[test]
fn dlr_url_as_clients_write_it() {
    let url = "http://app.example/dlr?id=123&type=%d&to=%p&from=%P&at=%T&smsc=%i&msg=%A";
    let d = Dlr { kind: dlr_mask::FAILED, answer: "NACK/0x00000045/Submit failed".into(), ..report() };
    assert_eq!(
        expand_dlr_url(url, &d),
        "http://app.example/dlr?id=123&type=2&to=%2B4915112345678&from=0049301234&at=1700000000\
         &smsc=smpp+1&msg=NACK%2F0x00000045%2FSubmit+failed"
    );
    assert_eq!(dlr_kind(crate::message::DeliveryStatus::Pending), dlr_mask::BUFFERED);
}
